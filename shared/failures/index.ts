export { classifyFailure, classifyStatus, InputFailure, inputFailureReason, isInputFailure, isOutage, STORE_NAMES, storeNamed, type Failure, type FailureClass, type Store } from './classify';
