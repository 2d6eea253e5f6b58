import { contractBroker } from './amqp-fixture';
import { laneContract } from './lane-contract';

laneContract(contractBroker, ['volume']);
