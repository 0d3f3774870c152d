// The API contract for signing in, API tokens and LAN sharing (the UI imports these types, as it does schemas.ts).
import { Type, type Static } from '@sinclair/typebox';
import { MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS } from '../auth/password.js';

export const LoginRequest = Type.Object(
  {
    password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_CHARS }),
    name: Type.Optional(Type.String({ maxLength: 40, description: 'shown as the owner of your jobs; a guest name when absent' })),
  },
  { additionalProperties: false },
);
export type LoginRequest = Static<typeof LoginRequest>;

export const SessionInfo = Type.Object({
  signedIn: Type.Boolean({ description: 'false only when the request has no identity (it must sign in)' }),
  user: Type.Union([Type.String(), Type.Null()]),
  owner: Type.Boolean({ description: 'the owner: on the machine Easel runs on; may change settings and cancel any job' }),
  via: Type.Union([Type.Literal('loopback'), Type.Literal('session'), Type.Literal('token'), Type.Literal('basic'), Type.Null()]),
  passwordSet: Type.Boolean(),
});
export type SessionInfo = Static<typeof SessionInfo>;

export const TokenCreate = Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }) }, { additionalProperties: false });
export type TokenCreate = Static<typeof TokenCreate>;

export const TokenInfo = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String() });
export type TokenInfo = Static<typeof TokenInfo>;

export const TokenCreated = Type.Object({
  ...TokenInfo.properties,
  token: Type.String({ description: 'shown this once; send it as "Authorization: Bearer <token>"' }),
});
export type TokenCreated = Static<typeof TokenCreated>;

export const TokenIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
export type TokenIdParams = Static<typeof TokenIdParams>;

const LanAddress = Type.Object({ url: Type.String(), interface: Type.String() });

export const SharingSettingsView = Type.Object({
  enabled: Type.Boolean(),
  requireLoginOnLoopback: Type.Boolean(),
  passwordSet: Type.Boolean(),
  listening: Type.Union([Type.Object({ host: Type.String(), port: Type.Integer() }), Type.Null()]),
  addresses: Type.Array(LanAddress),
});
export type SharingSettingsView = Static<typeof SharingSettingsView>;

export const SharingSettingsUpdate = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    password: Type.Optional(
      Type.String({ minLength: MIN_PASSWORD_CHARS, maxLength: MAX_PASSWORD_CHARS, description: 'required the first time sharing is turned on' }),
    ),
    requireLoginOnLoopback: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type SharingSettingsUpdate = Static<typeof SharingSettingsUpdate>;

export const SharingInfo = Type.Object({
  enabled: Type.Boolean(),
  addresses: Type.Array(Type.Object({ ...LanAddress.properties, qr: Type.String({ description: 'PNG data URL of a QR code for url' }) })),
});
export type SharingInfo = Static<typeof SharingInfo>;
