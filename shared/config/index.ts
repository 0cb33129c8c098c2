export { loadSettings, SettingsError, SECRET_NAMES, SETTING_NAMES } from './settings';
export type { Settings, SecretName } from './settings';
export { localEnvironment } from './localSettings';
export { ncrontabProblem, parseNcrontab, ScheduleError, type Schedule } from './ncrontab';
