/**
 * `lock:cli vendor-switch` — the operator's tool for switching a property's locks to another vendor, over
 * the service's REST API (`--url`, default http://127.0.0.1:8080; the token from LOCK_TOKEN or `--token`):
 *
 * - `plan --property P --from V1 --to V2 [--pilot-room R] [--start YYYY-MM-DD] [--per-day N] [--out F]`
 *   writes the plan file (default switch-plan.json): per room its old lock, the proposed new lock (edit
 *   `vendorDeviceRef` where none was proposed or the proposal is wrong), the cutover date and the checks.
 * - `apply --plan F [--rooms 101,102] [--wait S] [--skip-vendor-revocation]` drives the switch: creates it (and writes its id into the
 *   file), advances the phases, cuts the rooms over, waits for the drain, with a progress line. The switch's
 *   state is the service's: run `apply` again after Ctrl-C or a crash and it carries on where it stands.
 * - `status --switch S` prints where a switch stands.
 *
 * Exit codes: 0 done, 1 the service refused (its reason printed), 2 bad usage or a plan file that is not one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Compile } from 'typebox/compile';
import { type SwitchPlan, SwitchPlanFile } from '../cutover/switchPlan.ts';
import { CliError, type CliIo, defaultIo, restClient } from './restClient.ts';

export { CliError } from './restClient.ts';

const planCheck = Compile(SwitchPlanFile);

interface SwitchView {
  id: string;
  propertyId: string;
  from: string;
  to: string;
  phase: string;
  secrets?: {
    revokedAtVendor: string[];
    destroyed: string[];
    rotateAtVendor: string[];
    webhookRemoved: boolean;
  };
  rooms: { total: number; cutover: number };
  roomList: { roomId: string; newDeviceId: string | null }[];
  credentials: { moved: number; legacyLive: number };
  blockers: string[];
}

/** The plan file, checked: a file edited into something that is not a plan is refused with the reason. */
export function readPlan(file: string): SwitchPlan {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`${file}: not a readable JSON plan (${(e as Error).message})`, 2);
  }
  if (!planCheck.Check(value)) {
    const first = [...planCheck.Errors(value)][0];
    throw new CliError(
      `${file}: not a plan: ${first?.instancePath || '/'} ${first?.message ?? ''}`.trim(),
      2,
    );
  }
  const rooms = new Set<string>();
  for (const r of value.rooms) {
    if (rooms.has(r.roomId)) throw new CliError(`${file}: room ${r.roomId} is listed twice`, 2);
    rooms.add(r.roomId);
  }
  const refs = value.rooms.map((r) => r.vendorDeviceRef).filter((x): x is string => x !== null);
  const twice = refs.find((x, i) => refs.indexOf(x) !== i);
  if (twice) throw new CliError(`${file}: lock ${twice} is the new lock of two rooms`, 2);
  return value;
}

export async function runVendorSwitch(
  args: string[],
  env: Record<string, string | undefined>,
  io: CliIo = defaultIo,
): Promise<void> {
  const [sub, ...rest] = args;
  const arg = (name: string) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const url = arg('url') ?? env.LOCK_URL ?? 'http://127.0.0.1:8080';
  const token = arg('token') ?? env.LOCK_TOKEN;
  const usage =
    'usage: lock:cli vendor-switch plan --property P --from V1 --to V2 [--out switch-plan.json] | ' +
    'apply --plan switch-plan.json [--rooms 101,102] [--skip-vendor-revocation] | status --switch S   (--url, --token or LOCK_TOKEN)';
  if (!token) throw new CliError(`no token: set LOCK_TOKEN or pass --token\n${usage}`, 2);
  const call = restClient(url, token);

  switch (sub) {
    case 'plan': {
      const property = arg('property');
      const from = arg('from');
      const to = arg('to');
      if (!property || !from || !to) throw new CliError(usage, 2);
      const pilot = arg('pilot-room');
      const start = arg('start');
      const perDay = arg('per-day');
      const plan = await call<SwitchPlan>('POST', `/properties/${property}/vendor-switch-plans`, {
        from,
        to,
        ...(pilot ? { pilotRoom: pilot } : {}),
        ...(start ? { startDate: start } : {}),
        ...(perDay ? { roomsPerDay: Number(perDay) } : {}),
      });
      const out = arg('out') ?? 'switch-plan.json';
      writeFileSync(out, `${JSON.stringify(plan, null, 2)}\n`);
      io.out(`plan written to ${out}: ${plan.rooms.length} room(s) from ${from} to ${to}`);
      for (const r of plan.rooms)
        io.out(
          `  ${r.roomId.padEnd(8)} ${r.cutoverDate}  new lock ${r.vendorDeviceRef ?? '(none proposed)'}` +
            `  live ${r.liveCredentials}${r.staffKeys ? ` (staff ${r.staffKeys})` : ''}` +
            `${r.occupiedOnCutover ? '  occupied' : ''}`,
        );
      for (const w of plan.warnings) io.out(`  ! ${w}`);
      return;
    }
    case 'status': {
      const id = arg('switch');
      if (!id) throw new CliError(usage, 2);
      const s = await call<SwitchView>('GET', `/vendor-switches/${id}`);
      io.out(describe(s));
      for (const b of s.blockers) io.out(`  blocked: ${b}`);
      return;
    }
    case 'apply': {
      const file = arg('plan');
      if (!file) throw new CliError(usage, 2);
      const plan = readPlan(file);
      const only = arg('rooms')
        ?.split(',')
        .map((x) => x.trim());
      const missing = plan.rooms.filter((r) => r.vendorDeviceRef === null).map((r) => r.roomId);
      if (missing.length > 0)
        throw new CliError(`${file}: no new lock for room(s) ${missing.join(', ')}: set vendorDeviceRef`, 2);
      await apply(
        call,
        plan,
        file,
        only,
        Number(arg('wait') ?? 600),
        io,
        rest.includes('--skip-vendor-revocation'),
      );
      return;
    }
    default:
      throw new CliError(usage, 2);
  }
}

const describe = (s: SwitchView) =>
  `switch ${s.id}: ${s.phase} · rooms ${s.rooms.cutover}/${s.rooms.total} · credentials moved ` +
  `${s.credentials.moved}, still on the old vendor ${s.credentials.legacyLive}`;

async function apply(
  call: ReturnType<typeof restClient>,
  plan: SwitchPlan,
  file: string,
  only: string[] | undefined,
  waitSeconds: number,
  io: CliIo,
  skipVendorRevocation = false,
): Promise<void> {
  let s: SwitchView;
  if (plan.switchId) {
    s = await call<SwitchView>('GET', `/vendor-switches/${plan.switchId}`);
    if (s.propertyId !== plan.propertyId || s.from !== plan.from || s.to !== plan.to)
      throw new CliError(
        `${file}: switch ${plan.switchId} is ${s.from} → ${s.to} on property ${s.propertyId}, not this plan's`,
        2,
      );
    io.out(`carrying on with ${describe(s)}`);
  } else {
    try {
      s = await call<SwitchView>('POST', `/properties/${plan.propertyId}/vendor-switches`, {
        from: plan.from,
        to: plan.to,
        kinds: plan.kinds,
        ...(plan.pilotRoom ? { pilotRoom: plan.pilotRoom } : {}),
      });
    } catch (e) {
      // The answer to an earlier create was lost: the running switch may be this plan's.
      const running =
        e instanceof CliError ? /vendor switch (\S+) is running/.exec(e.message)?.[1] : undefined;
      if (running)
        throw new CliError(
          `${e instanceof Error ? e.message : ''}\nif it is this plan's, add "switchId": "${running}" to ${file} and apply again`,
          1,
        );
      throw e;
    }
    // Written at once: an apply started again after a crash finds its switch.
    writeFileSync(file, `${JSON.stringify({ ...plan, switchId: s.id }, null, 2)}\n`);
    io.out(`switch ${s.id} planned`);
  }
  const id = s.id;
  const started = Date.now();
  const cutRooms = (v: SwitchView) => new Set(v.roomList.filter((r) => r.newDeviceId).map((r) => r.roomId));
  const progress = (v: SwitchView, cut: number, total: number) => {
    const elapsed = (Date.now() - started) / 1000;
    const eta = cut > 0 && cut < total ? `, ETA ${Math.round((elapsed / cut) * (total - cut))} s` : '';
    io.progress(
      `[${'#'.repeat(Math.round((20 * cut) / Math.max(1, total))).padEnd(20, '.')}] rooms ${cut}/${total}` +
        ` · credentials moved ${v.credentials.moved}${eta}`,
    );
  };
  const cut = async (roomIds: string[]) => {
    const todo = plan.rooms.filter((r) => roomIds.includes(r.roomId) && !cutRooms(s).has(r.roomId));
    let done = cutRooms(s).size;
    for (const r of todo) {
      s = await call<SwitchView>('POST', `/vendor-switches/${id}/rooms/${r.roomId}/cutover`, {
        vendorDeviceRef: r.vendorDeviceRef,
      });
      done++;
      progress(s, done, plan.rooms.length);
    }
  };
  for (;;) {
    switch (s.phase) {
      case 'planned':
        s = await call<SwitchView>('POST', `/vendor-switches/${id}/advance`);
        io.out(`dual vendor: ${plan.to} enabled and preferred`);
        break;
      case 'dualVendor':
        if (plan.pilotRoom) await cut([plan.pilotRoom]);
        s = await call<SwitchView>('POST', `/vendor-switches/${id}/advance`);
        io.out('cutover: rooms one by one');
        break;
      case 'cutover': {
        const rooms = only ?? plan.rooms.map((r) => r.roomId);
        await cut(rooms);
        if (cutRooms(s).size < plan.rooms.length) {
          io.out(`\n${describe(s)}: the other rooms another time (apply again)`);
          return;
        }
        s = await call<SwitchView>('POST', `/vendor-switches/${id}/advance`);
        io.out(`\ndraining: no new issuance on ${plan.from}`);
        break;
      }
      case 'draining': {
        const deadline = Date.now() + waitSeconds * 1000;
        for (;;) {
          try {
            s = await call<SwitchView>('POST', `/vendor-switches/${id}/advance`);
            break;
          } catch (e) {
            // The drain is over and decommission began, but the old vendor was out of reach: carry on there.
            if (e instanceof CliError && e.message.includes('LOCK.VENDOR_UNAVAILABLE')) {
              s = await call<SwitchView>('GET', `/vendor-switches/${id}`);
              break;
            }
            if (
              !(e instanceof CliError) ||
              !e.message.includes('LOCK.INVALID_STATE') ||
              Date.now() > deadline
            )
              throw e;
            const now = await call<SwitchView>('GET', `/vendor-switches/${id}`);
            io.progress(`draining: ${now.credentials.legacyLive} credential(s) still on ${plan.from}`);
            // Each advance looks for stragglers too: not more often than this.
            await io.sleep(2000);
          }
        }
        break;
      }
      case 'decommissioning': {
        // The old vendor's secrets: revoked where it allows, then destroyed. A vendor out of reach: again,
        // unless the operator said to go on without (--skip-vendor-revocation).
        const deadline = Date.now() + waitSeconds * 1000;
        for (;;) {
          try {
            s = await call<SwitchView>(
              'POST',
              `/vendor-switches/${id}/advance${skipVendorRevocation ? '?skipVendorRevocation=true' : ''}`,
            );
            break;
          } catch (e) {
            if (
              !(e instanceof CliError) ||
              !e.message.includes('LOCK.VENDOR_UNAVAILABLE') ||
              Date.now() > deadline
            )
              throw e;
            io.progress(`decommissioning: ${plan.from} out of reach, trying again`);
            await io.sleep(2000);
          }
        }
        break;
      }
      case 'completed': {
        io.out(`\ncompleted: ${describe(s)}; ${plan.from} is disabled for this property`);
        const x = s.secrets;
        if (x) {
          io.out(
            `${plan.from} secrets destroyed: ${x.destroyed.join(', ') || 'none'}` +
              (x.revokedAtVendor.length > 0
                ? ` (revoked at ${plan.from} first: ${x.revokedAtVendor.join(', ')})`
                : '') +
              (x.webhookRemoved ? '; its webhook endpoint removed' : ''),
          );
          if (x.rotateAtVendor.length > 0)
            io.out(
              `rotate at ${plan.from} (only the vendor can; the service no longer holds them): ${x.rotateAtVendor.join(', ')}`,
            );
        }
        return;
      }
      case 'paused':
        throw new CliError(`switch ${id} is paused: resume it (POST /vendor-switches/${id}/resume)`, 1);
      default:
        throw new CliError(`switch ${id} is ${s.phase}`, 1);
    }
  }
}
