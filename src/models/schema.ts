// The vocabulary requests and events speak, shared by the feature layout, the
// engine, the user store and the event log: surfaces and devices (the request
// context the models see) and action types (what events record).

export const SURFACES = ['home', 'browse', 'search', 'pdp'] as const;
export const DEVICES = ['mobile', 'desktop', 'app'] as const;
export type Surface = (typeof SURFACES)[number];
export type Device = (typeof DEVICES)[number];

/** Action codes used everywhere in the engine (as in the user tower's input). */
export const ACTION = { impression: 1, click: 2, wishlist: 3, cart: 4, purchase: 5 } as const;
export type ActionCode = (typeof ACTION)[keyof typeof ACTION];
export const ACTION_NAMES: Record<number, keyof typeof ACTION> = { 1: 'impression', 2: 'click', 3: 'wishlist', 4: 'cart', 5: 'purchase' };
