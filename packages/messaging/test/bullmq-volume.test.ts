import { contractBroker } from './bullmq-fixture';
import { laneContract } from './lane-contract';

laneContract(contractBroker, ['volume']);
