export type { LaneModuleOptions } from './lane-module';
export { LANE_MIDDLEWARE, LaneModule } from './lane-module';
