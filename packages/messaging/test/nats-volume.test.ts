import { laneContract } from './lane-contract';
import { contractBroker } from './nats-fixture';

laneContract(contractBroker, ['volume']);
