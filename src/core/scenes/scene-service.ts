import type { TenantContext } from '../../auth/context.js';
import type { Database, Tx } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import { checkDocument, SceneInput, type SceneCommand } from '../automations/automation-schema.js';
import type { CommandService } from '../commands/command-service.js';
import type { CommandStatus } from '../event-bus.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { isVoiceChannel } from '../policy/obligations.js';
import { isUniqueViolation } from '../../db/pg-errors.js';

export type Scene = { id: string; name: string; voice: boolean; commands: SceneCommand[]; createdAt: Date; updatedAt: Date };
/** One command of an activation: the command the service made, or the error that kept it from being made. */
export type SceneCommandResult = SceneCommand & (
  | { outcome: 'issued'; commandId: string; status: CommandStatus }
  | { outcome: 'refused'; error: { code: string; message: string } }
);
export type SceneActivation = { scene: { id: string; name: string }; results: SceneCommandResult[] };
/** What a voice platform may offer: the scene, and whether activating it needs the person's PIN. */
export type VoiceScene = { id: string; name: string; pin: boolean };
export type Activation = { pin?: string; confirm?: boolean };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COLUMNS = 'id, name, voice, commands, created_at AS "createdAt", updated_at AS "updatedAt"';
const notFound = () => new GatewayError('SCENE_NOT_FOUND', 'No such scene, or no access to it.');
const nameTaken = (name: string) => new GatewayError('CONFLICT', `A scene named "${name}" exists already.`, { name });

/**
 * Scenes: named, tenant-scoped lists of device commands. Activation runs each
 * command through the command service under the activating caller's own
 * context, so the matrix, the voice policy, confirmation, PIN and approvals
 * apply to each as if it were sent alone. All commands are checked first
 * (preflight) and the PIN verified once: a refused gate or a wrong PIN runs none.
 */
export class SceneService {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly commands: CommandService) {}

  async list(ctx: TenantContext): Promise<Scene[]> {
    this.policy.check(ctx, 'scenes.activate');
    return this.db.withTenant(ctx, async (tx) => (await tx.query<Scene>(`SELECT ${COLUMNS} FROM scenes ORDER BY name`)).rows);
  }

  async get(ctx: TenantContext, id: string): Promise<Scene> {
    this.policy.check(ctx, 'scenes.activate');
    const scene = await this.db.withTenant(ctx, (tx) => sceneById(tx, id));
    if (!scene || (isVoiceChannel(ctx.channel) && !scene.voice)) throw notFound();
    return scene;
  }

  async create(ctx: TenantContext, input: unknown): Promise<Scene> {
    this.policy.check(ctx, 'scenes.manage');
    const scene = checkDocument<SceneInput>(SceneInput, input, 'Scene');
    await this.checkCommands(ctx, scene.commands);
    return this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<Scene>(
        `INSERT INTO scenes (tenant_id, name, voice, commands) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, name) DO NOTHING RETURNING ${COLUMNS}`,
        [ctx.tenantId, scene.name, scene.voice ?? false, JSON.stringify(scene.commands)],
      );
      if (!rows[0]) throw nameTaken(scene.name);
      await recordSecurityEvent(tx, ctx, { type: 'SCENE_CHANGED', details: { sceneId: rows[0].id, change: 'created', name: scene.name } });
      return rows[0];
    });
  }

  async update(ctx: TenantContext, id: string, input: unknown): Promise<Scene> {
    this.policy.check(ctx, 'scenes.manage');
    const scene = checkDocument<SceneInput>(SceneInput, input, 'Scene');
    await this.checkCommands(ctx, scene.commands);
    return this.db.withTenant(ctx, async (tx) => {
      if (!UUID.test(id)) throw notFound();
      const { rows } = await tx.query<Scene>(
        `UPDATE scenes SET name = $2, voice = $3, commands = $4, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, scene.name, scene.voice ?? false, JSON.stringify(scene.commands)],
      ).catch((error: unknown) => {
        throw isUniqueViolation(error) ? nameTaken(scene.name) : error;
      });
      if (!rows[0]) throw notFound();
      await recordSecurityEvent(tx, ctx, { type: 'SCENE_CHANGED', details: { sceneId: id, change: 'updated', name: scene.name } });
      return rows[0];
    });
  }

  async remove(ctx: TenantContext, id: string): Promise<void> {
    this.policy.check(ctx, 'scenes.manage');
    await this.db.withTenant(ctx, async (tx) => {
      const { rowCount } = UUID.test(id) ? await tx.query('DELETE FROM scenes WHERE id = $1', [id]) : { rowCount: 0 };
      if (!rowCount) throw notFound();
      await recordSecurityEvent(tx, ctx, { type: 'SCENE_CHANGED', details: { sceneId: id, change: 'deleted' } });
    });
  }

  /**
   * The scenes a voice platform may offer this caller (Google's Scene trait in
   * SYNC, Alexa's SceneController in discovery): marked `voice`, and every
   * command passing the caller's gate (voice policy whitelist; nothing critical);
   * `pin` when one of them needs the person's voice PIN.
   */
  async forVoice(ctx: TenantContext): Promise<VoiceScene[]> {
    if (!isVoiceChannel(ctx.channel)) throw new GatewayError('POLICY_DENIED', 'Voice scenes are listed for voice platforms only.', { channel: ctx.channel });
    const scenes = (await this.list(ctx)).filter((scene) => scene.voice);
    const offered: VoiceScene[] = [];
    for (const scene of scenes) {
      try {
        const gates = await this.preflight(ctx, scene.commands, {});
        offered.push({ id: scene.id, name: scene.name, pin: gates.some((gate) => gate.pin) });
      } catch (error) {
        if (!isGatewayError(error)) throw error;
      }
    }
    return offered;
  }

  /**
   * Activates a scene under the caller's own context: every command is checked
   * first (a refused one refuses the scene: nothing runs), the PIN verified
   * once if any needs it (wrong: nothing runs), then each is issued in order.
   * A command refused at issue (the device vanished meanwhile) is reported as
   * such; the others still run. Critical ones come back awaiting_approval.
   */
  async activate(ctx: TenantContext, id: string, activation: Activation = {}, idempotencyPrefix?: string): Promise<SceneActivation> {
    const scene = await this.get(ctx, id);
    const gates = await this.preflight(ctx, scene.commands, activation);
    const pinNeeded = gates.some((gate) => gate.pin);
    if (pinNeeded) await this.commands.verifyPin(ctx, activation.pin, `scene ${scene.name}`);
    const results: SceneCommandResult[] = [];
    for (const [index, step] of scene.commands.entries()) {
      try {
        const command = await this.commands.issue(ctx, step.device, {
          name: step.command, params: step.params, confirm: activation.confirm, pin: activation.pin,
          idempotencyKey: idempotencyPrefix ? `${idempotencyPrefix}:${index}` : undefined,
        });
        results.push({ ...step, outcome: 'issued', commandId: command.id, status: command.status });
      } catch (error) {
        if (!isGatewayError(error)) throw error;
        results.push({ ...step, outcome: 'refused', error: { code: error.code, message: error.message } });
      }
    }
    await this.db.withTenant(ctx, (tx) => recordSecurityEvent(tx, ctx, {
      type: 'SCENE_ACTIVATED',
      details: { sceneId: scene.id, name: scene.name, pin: pinNeeded, results: results.map((r) => ({ device: r.device, command: r.command, outcome: r.outcome, ...('commandId' in r ? { commandId: r.commandId, status: r.status } : { code: r.error.code }) })) },
    }));
    return { scene: { id: scene.id, name: scene.name }, results };
  }

  private preflight(ctx: TenantContext, commands: readonly SceneCommand[], activation: Activation) {
    return Promise.all(commands.map((step) => this.commands.preflight(ctx, step.device, { name: step.command, params: step.params, confirm: activation.confirm })));
  }

  /** The devices exist in the caller's tenant and accept the commands (another tenant's device: DEVICE_NOT_FOUND). */
  private async checkCommands(ctx: TenantContext, commands: readonly SceneCommand[]): Promise<void> {
    await this.policy.requireAccess(ctx, 'device.read', commands.map((step) => step.device));
    for (const step of commands) await this.commands.riskOf(ctx, step.device, step.command);
  }
}

export async function sceneById(tx: Tx, id: string): Promise<Scene | undefined> {
  if (!UUID.test(id)) return undefined;
  return (await tx.query<Scene>(`SELECT ${COLUMNS} FROM scenes WHERE id = $1`, [id])).rows[0];
}
