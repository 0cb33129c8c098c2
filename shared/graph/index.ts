export * from './erasureConfirmations';
