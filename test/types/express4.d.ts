// `express4` is Express 4 installed under an alias (npm:express@^4) so tests can run both majors.
// Its public API used by the tests (express(), json(), urlencoded(), Router) has the same types.
declare module 'express4' {
  import express = require('express');
  export = express;
}
