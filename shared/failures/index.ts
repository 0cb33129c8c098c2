export { classifyFailure, classifyStatus, isOutage, STORE_NAMES, storeNamed, type Failure, type FailureClass, type Store } from './classify';
