// `@graylane/discovery/undici`: the undici Dispatcher of discovery. Its declarations name undici's
// types, so they live behind their own entry: the main entry's declarations compile without the
// optional peer `undici`, as `/etcd` and `/kubernetes` keep `etcd3` and the Kubernetes client out.
export type { LaneDispatcherOptions } from '../lane-dispatcher';
export { laneDispatcher } from '../lane-dispatcher';
