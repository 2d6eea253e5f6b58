import { laneContract } from './lane-contract';
import { contractBroker } from './redis-streams-fixture';

laneContract(contractBroker, ['volume']);
