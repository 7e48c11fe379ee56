/** What people ask of the control plane through the `commands` function, and how it is carried out. */
export { COMMAND_NAMES, MAX_COMMAND_BODY_BYTES, PERSON_LIFECYCLE_COMMANDS, SELF_DECLARED_IDENTITY, commandRequestSchema, parseCommandRequest, type CommandName, type CommandRequest, type LifecycleRequest, type PersonLifecycleCommand } from './requests.js';
export { createCommands, type CommandOutcome, type CommandRequestRecord, type Commands, type CommandsDeps, type RefusalCode } from './service.js';
