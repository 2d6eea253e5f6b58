import { lanePublisherContract } from './lane-publisher-contract';
import { contractBroker } from './redis-streams-fixture';

lanePublisherContract(contractBroker);
