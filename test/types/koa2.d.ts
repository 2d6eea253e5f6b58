// `koa2` is Koa 2 installed under an alias (npm:koa@^2) so tests can run both majors. The API the
// tests use (new Koa(), use, callback, ctx.req/res/state/body/status) has the same types.
declare module 'koa2' {
  import Koa = require('koa');
  export = Koa;
}
