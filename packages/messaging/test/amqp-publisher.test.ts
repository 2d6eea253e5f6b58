import { contractBroker } from './amqp-fixture';
import { lanePublisherContract } from './lane-publisher-contract';

lanePublisherContract(contractBroker);
