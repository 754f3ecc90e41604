import type { Channel, Role } from '../../auth/context.js';

/**
 * The channel × capability matrix of seed 003 ("Multi-Channel Authorization
 * Matrix"), in Gatehouse's own vocabulary, encoded once, as data. Every
 * decision about what a channel may do is read from here by `requireAccess`.
 *
 * Levels, as in the seed:
 * - F: full, within the caller's role;
 * - L: limited: allowed with the listed obligations (PIN, confirmation, whitelist);
 * - N: never through this channel, whatever the role;
 * - S: system only: the automation channel acting for the platform.
 */
export type Level = 'F' | 'L' | 'N' | 'S';

/** What an L (or a guarded F/S) cell asks of the caller before the action runs. */
export type Obligation =
  | 'pin' // the user's voice PIN (voice channels)
  | 'confirm' // an explicit confirmation step (mobile admin actions)
  | 'whitelist' // only capabilities the tenant enabled for this voice platform
  | 'human_approval'; // automations may act only on a human-approved request

export type Cell = Readonly<{ level: Level; minRole?: Role; obligations?: readonly Obligation[] }>;

/** The kind of resource whose ids a permission checks (batch, tenant-scoped). */
export type ResourceKind = 'device' | 'user' | 'app' | 'none';

export type PermissionSpec = Readonly<{
  description: string;
  /** The seed 003 matrix row this permission encodes. */
  seedRow: string;
  resource: ResourceKind;
  /** Least role a human needs on F and L cells (devices and apps hold no roles). */
  minRole: Role;
  cells: Readonly<Record<Channel, Cell>>;
}>;

const F: Cell = { level: 'F' };
const N: Cell = { level: 'N' };
const S: Cell = { level: 'S' };
const L = (...obligations: Obligation[]): Cell => ({ level: 'L', obligations });
const admin = (cell: Cell): Cell => ({ ...cell, minRole: 'admin' });

export const CAPABILITY_MATRIX = {
  'device.read': {
    description: 'List devices and read their state and presence.',
    seedRow: 'View personal summaries',
    resource: 'device',
    minRole: 'viewer',
    cells: { web: F, mobile: F, alexa: L(), google: L(), iot: N, automation: S },
  },
  'telemetry.read': {
    description: 'Query stored telemetry (detailed history).',
    seedRow: 'View detailed reports (full text, charts)',
    resource: 'device',
    minRole: 'viewer',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: S },
  },
  'device.command': {
    description: 'Send an ordinary command (turn on, set mode) to a device.',
    seedRow: 'List & trigger simple automations',
    resource: 'device',
    minRole: 'member',
    cells: { web: F, mobile: F, alexa: L('whitelist'), google: L('whitelist'), iot: N, automation: S },
  },
  'device.command.sensitive': {
    description: 'Send a high-risk command (unlock, open, reset) to a device.',
    seedRow: 'Run high-risk actions (e.g., open/close, reset)',
    resource: 'device',
    minRole: 'member',
    cells: {
      web: admin(L('confirm')),
      mobile: admin(L('confirm')),
      alexa: L('whitelist', 'pin'),
      google: L('whitelist', 'pin'),
      iot: N,
      automation: { level: 'S', obligations: ['human_approval'] },
    },
  },
  'scenes.manage': {
    description: 'Create, change and delete scenes (named lists of device commands).',
    seedRow: 'Create / edit automations / workflows',
    resource: 'none',
    minRole: 'member',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: N },
  },
  'scenes.activate': {
    description: 'List and activate scenes; each command still passes device.command (and its sensitive gate) under the caller\'s context.',
    seedRow: 'List & trigger simple automations',
    resource: 'none',
    minRole: 'member',
    cells: { web: F, mobile: F, alexa: L('whitelist'), google: L('whitelist'), iot: N, automation: S },
  },
  'automations.manage': {
    description: 'Create, change, delete automations and set the tenant\'s time zone; read their run history.',
    seedRow: 'Create / edit automations / workflows',
    resource: 'none',
    minRole: 'admin',
    // Seed 003: no self-modifying workflows; the automation channel never edits automations.
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: N },
  },
  'device.register': {
    description: 'Register a device and issue its credential.',
    seedRow: 'Register IoT device',
    resource: 'none',
    minRole: 'admin',
    cells: { web: F, mobile: L('confirm'), alexa: N, google: N, iot: N, automation: N },
  },
  'device.manage': {
    description: 'Change a device: capabilities, suspend, revoke, firmware and configuration.',
    seedRow: 'Firmware / config update',
    resource: 'device',
    minRole: 'admin',
    cells: { web: F, mobile: L('confirm'), alexa: N, google: N, iot: N, automation: S },
  },
  'telemetry.publish': {
    description: 'Publish telemetry, state and events as a device.',
    seedRow: 'Send telemetry (sensors → cloud)',
    resource: 'device',
    minRole: 'viewer',
    cells: { web: N, mobile: N, alexa: N, google: N, iot: F, automation: S },
  },
  'command.receive': {
    description: 'Receive commands and report their results as a device.',
    seedRow: 'Receive commands (cloud → device)',
    resource: 'device',
    minRole: 'viewer',
    cells: { web: N, mobile: N, alexa: N, google: N, iot: F, automation: S },
  },
  'push.register': {
    description: 'Register a mobile push token for oneself.',
    seedRow: 'Register mobile device (push)',
    resource: 'none',
    minRole: 'viewer',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: N },
  },
  'voice.link': {
    description: 'Link a voice assistant account to oneself.',
    seedRow: 'Register voice account (linking)',
    resource: 'none',
    minRole: 'viewer',
    cells: { web: F, mobile: F, alexa: L(), google: L(), iot: N, automation: N },
  },
  'voice.pin.manage': {
    description: 'Set or change one\'s own voice PIN.',
    seedRow: 'Manage notification settings',
    resource: 'none',
    minRole: 'viewer',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: N },
  },
  'voice.policy.manage': {
    description: 'Read and change the tenant\'s voice policy: which capabilities each voice platform may use, and which need the PIN.',
    seedRow: 'Tenant admin: roles & permissions',
    resource: 'none',
    minRole: 'admin',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: N },
  },
  'command.approve': {
    description: 'Approve or deny a command that waits for a person (owners and admins; a device\'s owner user for that device).',
    seedRow: 'Run high-risk actions (e.g., open/close, reset)',
    resource: 'none',
    // The service narrows it: an owner or admin, or the device's owner user.
    minRole: 'member',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: N },
  },
  'notifications.manage': {
    description: 'Manage notification preferences.',
    seedRow: 'Manage notification settings',
    resource: 'none',
    minRole: 'viewer',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: L() },
  },
  'notifications.rules.manage': {
    description: 'Change who in the tenant is told of what: the notification rules.',
    seedRow: 'Tenant admin: roles & permissions',
    resource: 'none',
    minRole: 'admin',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: N },
  },
  'tenant.members.manage': {
    description: 'Invite, remove, suspend members and change their roles.',
    seedRow: 'Tenant admin: invite/remove users',
    resource: 'user',
    minRole: 'admin',
    cells: { web: F, mobile: L('confirm'), alexa: N, google: N, iot: N, automation: N },
  },
  'tenant.apps.manage': {
    description: 'List, create, rotate and delete app credentials.',
    seedRow: 'Tenant admin: roles & permissions',
    resource: 'app',
    minRole: 'admin',
    cells: { web: F, mobile: L('confirm'), alexa: N, google: N, iot: N, automation: N },
  },
  'security_events.read': {
    description: 'Read the tenant\'s audit log.',
    seedRow: 'View audit & security events',
    resource: 'none',
    minRole: 'admin',
    cells: { web: F, mobile: F, alexa: N, google: N, iot: N, automation: N },
  },
  'data.purge': {
    description: 'Hard-delete devices and purge telemetry.',
    seedRow: 'Hard-delete / purge data',
    resource: 'device',
    minRole: 'admin',
    cells: { web: F, mobile: L('confirm'), alexa: N, google: N, iot: N, automation: N },
  },
} as const satisfies Record<string, PermissionSpec>;

export type Permission = keyof typeof CAPABILITY_MATRIX;

export const PERMISSIONS = Object.keys(CAPABILITY_MATRIX) as Permission[];

export function cellFor(permission: Permission, channel: Channel): Cell {
  return (CAPABILITY_MATRIX[permission] as PermissionSpec).cells[channel];
}

/**
 * The scopes a token for a channel may carry: every permission the channel is
 * not denied. A voice token thus never carries an admin scope.
 */
export function scopesForChannel(channel: Channel): Permission[] {
  return PERMISSIONS.filter((permission) => cellFor(permission, channel).level !== 'N');
}
