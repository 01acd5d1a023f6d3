// STUB: OWNER settlement work.
export {};
