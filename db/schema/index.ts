export * from "./segments";
export * from "./memberships";
export * from "./events";
export * from "./users";
export * from "./campaigns";
export * from "./audit";
export * from "./api-keys";
export * from "./outbox";
