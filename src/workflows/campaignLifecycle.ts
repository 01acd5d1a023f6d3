// STUB: OWNER campaigns work.
export {};
