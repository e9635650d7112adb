// The libraries the benchmark compares, each asked the same two questions about a Project:
// may the user view it, and may they create a task in it. Each is built from the same generated
// organisation, at the same clock, and checked for identical decisions before it is timed.
//
// The rules, for these two questions (spec §2–§4): a Project of the user's own Network is
// visible when they are on its team, or are a network admin or superuser, or (all_in_office)
// it is in their home or an additional Office; across the firewall only when they are on its
// team and an active Agreement shares them into its Office. `task.create` needs visibility and
// the permission in that context: their profile with their home Office's overrides, or an
// Agreement's profile with the host Office's overrides.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** What each library is given: per user and per Project, what the rules read. */
export function model(org, nowMs) {
  const offices = new Map(org.offices.map((o) => [o.id, o]));
  const networks = new Map(org.networks.map((n) => [n.id, n]));
  const holds = (profile, officeId, key) => {
    const office = offices.get(officeId);
    const override = office.overrides?.[profile]?.[key];
    if (override !== undefined) return override;
    return (networks.get(office.network).defaults?.[profile] ?? []).includes(key);
  };
  const users = new Map();
  for (const u of org.users) {
    const access = u.access ?? "all_in_office";
    users.set(u.id, {
      id: u.id,
      active: u.active !== false,
      network: offices.get(u.home_office).network,
      reach: access === "network_admin" || u.network_superuser ? "network" : access === "invite_only" ? "team" : "offices",
      offices: new Set([u.home_office, ...(u.additional_offices ?? [])]),
      taskCreate: holds(u.profile, u.home_office, "task.create"),
      /** Office → task.create there, for each Office an active Agreement shares the user into. */
      alien: new Map(),
      teams: [],
    });
  }
  for (const a of org.agreements ?? []) {
    if (a.expires_at && nowMs >= Date.parse(a.expires_at)) continue;
    const shared = a.users ?? org.users.filter((u) => u.home_office === a.guest_office).map((u) => u.id);
    const granted = holds(a.profile, a.host_office, "task.create");
    for (const id of shared) {
      const alien = users.get(id).alien;
      alien.set(a.host_office, alien.get(a.host_office) === true || granted);
    }
  }
  const projects = new Map();
  for (const p of org.projects) {
    const project = { id: p.id, office: p.office, network: offices.get(p.office).network, team: new Set(p.team) };
    projects.set(p.id, project);
    for (const id of p.team) users.get(id).teams.push(project);
  }
  return { users, projects };
}

/** The hand-written baseline: per user, the Projects they may see and those they may create
 * tasks in, precomputed as Sets, so that a decision is two lookups. */
export function baseline(m, users) {
  const byOffice = new Map();
  const byNetwork = new Map();
  for (const p of m.projects.values()) {
    if (!byOffice.has(p.office)) byOffice.set(p.office, []);
    if (!byNetwork.has(p.network)) byNetwork.set(p.network, []);
    byOffice.get(p.office).push(p);
    byNetwork.get(p.network).push(p);
  }
  const sets = new Map();
  for (const id of users) {
    const u = m.users.get(id);
    const view = new Set();
    const create = new Set();
    const own = (p) => {
      view.add(p.id);
      if (u.taskCreate) create.add(p.id);
    };
    if (u.active) {
      if (u.reach === "network") for (const p of byNetwork.get(u.network) ?? []) own(p);
      if (u.reach === "offices") for (const office of u.offices) for (const p of byOffice.get(office) ?? []) own(p);
      for (const p of u.teams) {
        if (p.network === u.network) own(p);
        else if (u.alien.has(p.office)) {
          view.add(p.id);
          if (u.alien.get(p.office)) create.add(p.id);
        }
      }
    }
    sets.set(id, { view, create });
  }
  return {
    view: (user, project) => sets.get(user).view.has(project),
    createTask: (user, project) => sets.get(user).create.has(project),
    filter: (user, items) => {
      const visible = sets.get(user).view;
      return items.filter((item) => visible.has(item.kind === "project" ? item.id : item.project));
    },
  };
}

/** A second hand-written version: the rules themselves over Maps and Sets of users and Projects,
 * nothing precomputed per Project. */
export function rules(m) {
  const view = (u, p) => {
    if (u === undefined || p === undefined || !u.active) return false;
    if (p.network === u.network) return p.team.has(u.id) || u.reach === "network" || (u.reach === "offices" && u.offices.has(p.office));
    return p.team.has(u.id) && u.alien.has(p.office);
  };
  return {
    view: (user, project) => view(m.users.get(user), m.projects.get(project)),
    createTask: (user, project) => {
      const u = m.users.get(user);
      const p = m.projects.get(project);
      if (!view(u, p)) return false;
      return p.network === u.network ? u.taskCreate : u.alien.get(p.office) === true;
    },
    filter: (user, items) => {
      const u = m.users.get(user);
      return items.filter((item) => view(u, m.projects.get(item.kind === "project" ? item.id : item.project)));
    },
  };
}

/** tessera-policy, from the packed package's Node build. */
export function tessera(packageDir, snapshot, publicKey, nowMs, users) {
  const { PolicyEngine } = require(`${packageDir}/node/tessera_policy.js`);
  const engine = PolicyEngine.load(snapshot, { trustedKeys: [publicKey], now: nowMs, maxBytes: 1 << 30 });
  const views = new Map(users.map((user) => [user, engine.forUser(user)]));
  return {
    engine,
    view: (user, project) => views.get(user).canView("project", project),
    createTask: (user, project) => views.get(user).can("task.create", { project }),
    filter: (user, items) => views.get(user).filter(items),
  };
}

/** CASL: one ability per user, its rules the user's own conditions. */
export function casl(m, users) {
  const { AbilityBuilder, createMongoAbility, subject } = require("@casl/ability");
  const abilities = new Map();
  for (const id of users) {
    const u = m.users.get(id);
    const { can, build } = new AbilityBuilder(createMongoAbility);
    if (u.active) {
      const own = [{ network: u.network, team: u.id }];
      if (u.reach === "network") own.push({ network: u.network });
      if (u.reach === "offices") own.push({ office: { $in: [...u.offices] } });
      for (const conditions of own) {
        can("view", "Project", conditions);
        if (u.taskCreate) can("create_task", "Project", conditions);
      }
      for (const [office, taskCreate] of u.alien) {
        can("view", "Project", { office, team: u.id });
        if (taskCreate) can("create_task", "Project", { office, team: u.id });
      }
    }
    abilities.set(id, build());
  }
  const subjects = new Map();
  for (const p of m.projects.values()) {
    subjects.set(p.id, subject("Project", { id: p.id, office: p.office, network: p.network, team: [...p.team] }));
  }
  return {
    view: (user, project) => abilities.get(user).can("view", subjects.get(project)),
    createTask: (user, project) => abilities.get(user).can("create_task", subjects.get(project)),
  };
}

const CASBIN_MODEL = `
[request_definition]
r = sub, obj, act
[policy_definition]
p = act
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.act == p.act && (g(r.sub, r.act + "@" + r.obj.id) || g(r.sub, r.act + "@" + r.obj.office) || g(r.sub, r.act + "@" + r.obj.network))
`;

/** casbin: RBAC over grants, each user linked to what they may act on (a Project, an Office,
 * a Network), the request's Project carrying its Office and Network. */
export async function casbin(m, users) {
  const { newEnforcer, newModelFromString, StringAdapter } = require("casbin");
  const lines = ["p, view", "p, create_task"];
  for (const id of users) {
    const u = m.users.get(id);
    if (!u.active) continue;
    const grant = (target, taskCreate) => {
      lines.push(`g, ${id}, view@${target}`);
      if (taskCreate) lines.push(`g, ${id}, create_task@${target}`);
    };
    if (u.reach === "network") grant(u.network, u.taskCreate);
    if (u.reach === "offices") for (const office of u.offices) grant(office, u.taskCreate);
    for (const p of u.teams) {
      if (p.network === u.network) grant(p.id, u.taskCreate);
      else if (u.alien.has(p.office)) grant(p.id, u.alien.get(p.office));
    }
  }
  const enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL), new StringAdapter(lines.join("\n")));
  const objects = new Map([...m.projects.values()].map((p) => [p.id, { id: p.id, office: p.office, network: p.network }]));
  return {
    view: (user, project) => enforcer.enforceSync(user, objects.get(project), "view"),
    createTask: (user, project) => enforcer.enforceSync(user, objects.get(project), "create_task"),
  };
}

const CEDAR_POLICIES = `
permit (principal, action == Action::"view", resource)
when { principal.active && resource.network == principal.network &&
       (resource.team.contains(principal.uid) || principal.reach == "network" ||
        (principal.reach == "offices" && principal.offices.contains(resource.office))) };
permit (principal, action == Action::"view", resource)
when { principal.active && resource.network != principal.network &&
       resource.team.contains(principal.uid) && principal.alien.contains(resource.office) };
permit (principal, action == Action::"create_task", resource)
when { principal.active && principal.taskCreate && resource.network == principal.network &&
       (resource.team.contains(principal.uid) || principal.reach == "network" ||
        (principal.reach == "offices" && principal.offices.contains(resource.office))) };
permit (principal, action == Action::"create_task", resource)
when { principal.active && resource.network != principal.network &&
       resource.team.contains(principal.uid) && principal.alienTask.contains(resource.office) };
`;

/** Cedar (its wasm build): the rules as policies, preparsed once; each request carries the
 * user's and the Project's entities. */
export function cedar(m, users) {
  const cedar = require("@cedar-policy/cedar-wasm/nodejs");
  const parsed = cedar.preparsePolicySet("tessera", { staticPolicies: CEDAR_POLICIES });
  if (parsed.type !== "success") throw new Error(`cedar: ${JSON.stringify(parsed.errors)}`);
  const principals = new Map();
  for (const id of users) {
    const u = m.users.get(id);
    principals.set(id, {
      uid: { type: "User", id },
      attrs: {
        uid: id,
        active: u.active,
        network: u.network,
        reach: u.reach,
        offices: [...u.offices],
        taskCreate: u.taskCreate,
        alien: [...u.alien.keys()],
        alienTask: [...u.alien].filter(([, taskCreate]) => taskCreate).map(([office]) => office),
      },
      parents: [],
    });
  }
  const resources = new Map();
  for (const p of m.projects.values()) {
    resources.set(p.id, { uid: { type: "Project", id: p.id }, attrs: { network: p.network, office: p.office, team: [...p.team] }, parents: [] });
  }
  const ask = (action) => (user, project) => {
    const answer = cedar.statefulIsAuthorized({
      principal: { type: "User", id: user },
      action: { type: "Action", id: action },
      resource: { type: "Project", id: project },
      context: {},
      preparsedPolicySetId: "tessera",
      entities: [principals.get(user), resources.get(project)],
    });
    if (answer.type !== "success") throw new Error(`cedar: ${JSON.stringify(answer.errors)}`);
    return answer.response.decision === "allow";
  };
  return { view: ask("view"), createTask: ask("create_task"), version: cedar.getCedarVersion() };
}

/** A seeded PRNG (mulberry32): the same workload on every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n | 0;
  };
}

/** The workload: a sample of users, random (user, Project) pairs, and 100k search results. */
export function workload(org, { users = 1000, pairs = 100_000, results = 100_000 } = {}) {
  const random = rng(20261122);
  const sample = [...new Set(Array.from({ length: users }, () => org.users[random(org.users.length)].id))];
  const projectIds = org.projects.map((p) => p.id);
  const askPairs = Array.from({ length: pairs }, () => [sample[random(sample.length)], projectIds[random(projectIds.length)]]);
  const kinds = ["project", "task", "document"];
  const items = Array.from({ length: results }, (_, i) => {
    const kind = kinds[random(3)];
    const project = projectIds[random(projectIds.length)];
    return kind === "project" ? { kind, id: project } : { kind, id: `${kind[0]}-${i}`, project };
  });
  return { sample, pairs: askPairs, items };
}
