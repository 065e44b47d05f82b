package dev.m2mfa.authority.policy;

import dev.m2mfa.api.factor.FactorResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A compiled, immutable login policy: classes of machine, each with ordered assurance levels.
 *
 * <h2>Evaluation rules</h2>
 * <ol>
 * <li>A level is <em>reached</em> when each of its factor groups holds (at least {@code k}
 *     of its factors passed) and every lower level of the class is reached too. Levels are
 *     cumulative so that a higher {@code acr} implies all a lower one required.</li>
 * <li>The <em>achieved</em> level is the highest level reached. Only {@code PASS} counts; a
 *     factor reported both passed and not passed counts as not passed.</li>
 * <li>The <em>needed</em> level is the audience's minimum (its own rule, else {@code "*"},
 *     else the lowest level), raised to the requested {@code acr} if one was given. An
 *     {@code acr} the class does not offer is refused ({@link Response#DENY}).</li>
 * <li>Events: {@link PolicyEvent#CLONE} refuses with {@link Response#LOCK} whatever else
 *     happened. {@link PolicyEvent#ANOMALY} applies {@code on.anomaly}: {@code quarantine}
 *     refuses with {@link Response#QUARANTINE}; {@code step-up} raises the needed level to
 *     the class's highest; {@code alert} lets an otherwise allowed login through with
 *     {@link Response#ALERT}.</li>
 * <li>Achieved at or above needed: allowed; {@code acr}, {@code amr} and lifetimes are the
 *     achieved level's. Below: refused with {@code on.factor_failure} ({@code deny} or
 *     {@code step-up}; a login that reached what it needed before an anomaly step-up raised
 *     the bar answers step-up), and the reason names the
 *     first level not reached and, per group that does not hold, what did not pass.</li>
 * </ol>
 *
 * <h2>acr values</h2>
 * A level named {@code strong} is {@code acr} {@code m2mfa:strong}. Level names in files
 * start with a letter, so they never collide with the legacy values {@code m2mfa:1fa} ..
 * {@code m2mfa:3fa} that {@link #fromLegacyClasses} keeps. {@link #acrOrder()} is one order over
 * every class, for the verifier's {@code acrOrder}: the loader refuses classes that order the
 * same levels differently, and levels that no chain of classes orders against each other.
 *
 * <p>Thread safety: immutable; share it freely. Reloading builds a new instance
 * ({@link PolicySource}).
 */
public final class Policy {
  /** The acr order the verifier uses by default; a legacy policy keeps it. */
  public static final List<String> LEGACY_ACR_ORDER = List.of("m2mfa:1fa", "m2mfa:2fa", "m2mfa:3fa");
  /** Lifetimes of legacy levels when the caller gives none (the authority.conf defaults). */
  public static final Duration DEFAULT_TOKEN_LIFETIME = Duration.ofSeconds(300);
  public static final Duration DEFAULT_CERTIFICATE_LIFETIME = Duration.ofHours(1);

  private final Map<String, MachineClass> classes;
  private final List<String> acrOrder;

  Policy(Map<String, MachineClass> classes, List<String> acrOrder) {
    if (classes.isEmpty()) throw new IllegalArgumentException("a policy needs at least one class");
    this.classes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(classes));
    this.acrOrder = List.copyOf(acrOrder);
  }

  // ---------------------------------------------------------------- building

  /**
   * Loads and validates policy files. Each path is a file, or a directory whose {@code *.yaml}
   * and {@code *.yml} files are read in name order.
   *
   * @param installedFactors the factor names that have a verifier; any other name is an error
   * @throws PolicyException with every problem found, each naming file, line and column
   */
  public static Policy load(List<Path> paths, Set<String> installedFactors) throws PolicyException {
    return PolicyLoader.load(paths, installedFactors).policy();
  }

  /** {@link #fromLegacyClasses(Map, Duration, Duration)} with 300 s tokens and 1 h certificates. */
  public static Policy fromLegacyClasses(Map<String, List<String>> classes) {
    return fromLegacyClasses(classes, DEFAULT_TOKEN_LIFETIME, DEFAULT_CERTIFICATE_LIFETIME);
  }

  /**
   * The policy an {@code authority.conf} with only {@code class.NAME=f1,f2,...} lines meant:
   * per class one level whose single group is all of the listed factors. The level is named
   * {@code <n>fa} with n = min(3, number of factors), so {@code acr} stays
   * {@code m2mfa:<n>fa} exactly as before and {@link #acrOrder()} is {@link #LEGACY_ACR_ORDER}:
   * existing tokens, relying services and their {@code acrOrder} see no change. Every
   * audience needs that one level; factor failure denies; lifetimes are the given ones.
   */
  public static Policy fromLegacyClasses(Map<String, List<String>> classes, Duration tokenLifetime, Duration certificateLifetime) {
    Map<String, MachineClass> out = new LinkedHashMap<>();
    for (var e : classes.entrySet()) {
      List<String> factors = List.copyOf(new LinkedHashSet<>(e.getValue()));
      Level level = new Level(Math.min(3, factors.size()) + "fa", 0, List.of(FactorGroup.allOf(factors)), tokenLifetime, certificateLifetime);
      out.put(e.getKey(), new MachineClass(e.getKey(), List.of(level), Map.of(), Responses.DEFAULTS, "authority.conf class." + e.getKey()));
    }
    return new Policy(out, LEGACY_ACR_ORDER);
  }

  // ---------------------------------------------------------------- queries

  public Set<String> classNames() {
    return classes.keySet();
  }

  public boolean hasClass(String name) {
    return classes.containsKey(name);
  }

  public Optional<MachineClass> machineClass(String name) {
    return Optional.ofNullable(classes.get(name));
  }

  /**
   * Every {@code acr} this policy can issue, weakest first: one order across all classes, for
   * a relying service's {@code acrOrder} (a legacy policy: {@link #LEGACY_ACR_ORDER}).
   */
  public List<String> acrOrder() {
    return acrOrder;
  }

  /** Every factor name any class uses (each needs a verifier). */
  public Set<String> factorNames() {
    Set<String> out = new LinkedHashSet<>();
    for (MachineClass c : classes.values()) for (Level l : c.levels()) out.addAll(l.factors());
    return out;
  }

  /**
   * The level a login for {@code audience} must reach: the audience's minimum raised to the
   * requested acr. An acr the class does not offer yields the class's highest level (the
   * login will be refused by {@link #evaluate}; challenging everything keeps the two in step).
   *
   * @throws IllegalArgumentException for an unknown class
   */
  public Level neededLevel(String machineClass, String audience, Optional<String> requestedAcr) {
    MachineClass mc = require(machineClass);
    Level needed = mc.minimumFor(audience);
    if (requestedAcr.isPresent()) {
      Level requested = mc.levelForAcr(requestedAcr.get()).orElse(mc.highest());
      if (requested.rank() > needed.rank()) needed = requested;
    }
    return needed;
  }

  /**
   * The factors to challenge at login start: every factor named by the levels up to and
   * including the needed one, distinct, in policy order.
   *
   * @throws IllegalArgumentException for an unknown class (check {@link #hasClass} first)
   */
  public List<String> factorsToChallenge(String machineClass, String audience, Optional<String> requestedAcr) {
    MachineClass mc = require(machineClass);
    List<String> needed = factorsUpTo(mc, neededLevel(machineClass, audience, requestedAcr));
    if (mc.responses().postureMismatch() == Response.DENY || needed.contains(POSTURE)) return needed;
    // step-down and alert judge posture at every login of the class, even where it is not needed
    boolean used = mc.levels().stream().anyMatch(l -> l.factors().contains(POSTURE));
    if (!used) return needed;
    List<String> out = new java.util.ArrayList<>(needed);
    out.add(POSTURE);
    return List.copyOf(out);
  }

  /** The posture factor's name: its mismatches have their own response ({@code on: posture_mismatch}). */
  public static final String POSTURE = "posture";

  // ---------------------------------------------------------------- evaluation

  /** {@link #evaluate(String, String, Optional, Set, Set, Set)} with the host's stamped results. */
  public Decision evaluate(String machineClass, String audience, Optional<String> requestedAcr, Collection<FactorResult> results,
      Set<PolicyEvent> events) {
    Set<String> passed = new LinkedHashSet<>();
    Set<String> notPassed = new HashSet<>();
    for (FactorResult r : results) (r.passed() ? passed : notPassed).add(r.factor());
    return evaluate(machineClass, audience, requestedAcr, passed, notPassed, events);
  }

  /**
   * Decides one login (rules in the class comment). Never throws for unknown input: an
   * unknown class or acr is a refusal.
   *
   * @param passed names of the factors whose verifier returned PASS
   * @param notPassed names of the factors that FAILED or were ABSENT (they never count)
   * @param events events seen during this login (empty for none)
   */
  public Decision evaluate(String machineClass, String audience, Optional<String> requestedAcr, Set<String> passed,
      Set<String> notPassed, Set<PolicyEvent> events) {
    MachineClass mc = classes.get(machineClass);
    if (mc == null) {
      return refused(machineClass, Optional.empty(), Optional.empty(), false, false, List.of(), Response.DENY, null, List.of(),
          "unknown machine class '" + machineClass + "'");
    }
    Set<String> good = new HashSet<>(passed);
    good.removeAll(notPassed);

    Level audienceMinimum = mc.minimumFor(audience);
    Level needed = audienceMinimum;
    Optional<Level> requested = Optional.empty();
    if (requestedAcr.isPresent()) {
      requested = mc.levelForAcr(requestedAcr.get());
      if (requested.isEmpty()) {
        return refused(machineClass, Optional.empty(), Optional.of(mc.highest().name()), false, false, List.of(), Response.DENY, null,
            List.of(), "requested acr '" + requestedAcr.get() + "' is not offered by class '" + machineClass + "' (offered: "
                + String.join(", ", mc.levels().stream().map(Level::acr).toList()) + ")");
      }
      if (requested.get().rank() > needed.rank()) needed = requested.get();
    }

    int achievedRank = -1;
    Level blocking = null;
    for (Level l : mc.levels()) {
      if (l.groups().stream().allMatch(g -> g.holds(good))) {
        achievedRank = l.rank();
      } else {
        blocking = l;
        break;
      }
    }
    Optional<Level> achieved = achievedRank < 0 ? Optional.empty() : Optional.of(mc.levels().get(achievedRank));
    List<String> amr = new ArrayList<>();
    for (int i = 0; i <= achievedRank; i++) {
      for (String f : mc.levels().get(i).factors()) if (good.contains(f) && !amr.contains(f)) amr.add(f);
    }
    boolean meetsAudience = achievedRank >= audienceMinimum.rank();
    final int reached = achievedRank;
    boolean meetsRequested = requested.map(r -> reached >= r.rank()).orElse(true);
    Optional<String> achievedName = achieved.map(Level::name);

    if (events.contains(PolicyEvent.CLONE)) {
      return refused(machineClass, achievedName, Optional.of(needed.name()), meetsAudience, meetsRequested, amr, Response.LOCK, null,
          List.of(), "clone detected: lock the identity and revoke its credentials (on.clone: lock)");
    }
    boolean alert = false;
    boolean anomalyStepUp = false;
    final Level neededBeforeAnomaly = needed;
    if (events.contains(PolicyEvent.ANOMALY)) {
      switch (mc.responses().anomaly()) {
        case QUARANTINE -> {
          return refused(machineClass, achievedName, Optional.of(needed.name()), meetsAudience, meetsRequested, amr,
              Response.QUARANTINE, null, List.of(), "anomaly reported: quarantine the identity (on.anomaly: quarantine)");
        }
        case STEP_UP -> {
          if (needed.rank() < mc.highest().rank()) {
            needed = mc.highest();
            anomalyStepUp = true;
          }
        }
        default -> alert = true;
      }
    }

    if (achievedRank >= needed.rank()) {
      Level a = achieved.orElseThrow();
      String why = "reached level " + a.name() + " (needed " + needed.name() + ": " + mc.audienceRuleFor(audience)
          + (requested.isPresent() ? ", requested " + requested.get().acr() : "") + ")"
          + (alert ? "; anomaly reported: alert (on.anomaly: alert)" : "");
      return new Decision(true, machineClass, achievedName, Optional.of(needed.name()), meetsAudience, meetsRequested,
          Optional.of(a.acr()), amr, a.tokenLifetime(), a.certificateLifetime(), alert ? Response.ALERT : Response.NONE,
          Optional.empty(), List.of(), why);
    }
    // below the needed level: blocking is the first level not reached, at or below needed
    String missing = describeMissing(blocking, good);
    if (anomalyStepUp) missing += "; anomaly reported: step-up to " + needed.name() + " (on.anomaly: step-up)";
    // a login that already misses what it needed without the anomaly gets on.factor_failure
    // (deny is stronger than step-up); one that only misses the anomaly's higher bar steps up
    Response response = anomalyStepUp && achievedRank >= neededBeforeAnomaly.rank() ? Response.STEP_UP : mc.responses().factorFailure();
    return refused(machineClass, achievedName, Optional.of(needed.name()), meetsAudience, meetsRequested, amr, response,
        response == Response.STEP_UP ? needed.acr() : null, response == Response.STEP_UP ? factorsUpTo(mc, needed) : List.of(), missing);
  }

  private static Decision refused(String cls, Optional<String> achieved, Optional<String> needed, boolean meetsAudience,
      boolean meetsRequested, List<String> amr, Response response, String stepUpAcr, List<String> stepUpFactors, String reason) {
    return new Decision(false, cls, achieved, needed, meetsAudience, meetsRequested, achieved.map(n -> Level.ACR_PREFIX + n), amr,
        Duration.ZERO, Duration.ZERO, response, Optional.ofNullable(stepUpAcr), stepUpFactors, reason);
  }

  /** "level strong needs 1 of [otp-chain, hardware]; none passed", one clause per unmet group. */
  static String describeMissing(Level level, Set<String> passed) {
    List<String> parts = new ArrayList<>();
    for (FactorGroup g : level.groups()) {
      if (g.holds(passed)) continue;
      int n = g.passedCount(passed);
      String state;
      if (n == 0) {
        state = "none passed";
      } else if (g.isAllOf()) {
        state = "not passed: " + String.join(", ", g.of().stream().filter(f -> !passed.contains(f)).toList());
      } else {
        state = "only " + n + " passed (" + String.join(", ", g.of().stream().filter(passed::contains).toList()) + ")";
      }
      parts.add("level " + level.name() + " needs " + g.describe() + "; " + state);
    }
    return String.join("; ", parts);
  }

  private static List<String> factorsUpTo(MachineClass mc, Level needed) {
    Set<String> out = new LinkedHashSet<>();
    for (Level l : mc.levels()) {
      if (l.rank() > needed.rank()) break;
      out.addAll(l.factors());
    }
    return List.copyOf(out);
  }

  private MachineClass require(String machineClass) {
    MachineClass mc = classes.get(machineClass);
    if (mc == null) throw new IllegalArgumentException("unknown machine class '" + machineClass + "'");
    return mc;
  }

  // ---------------------------------------------------------------- words for people

  /**
   * What a machine of {@code machineClass} needs now to log in for {@code audience}: the
   * level, why that level, the factors challenged, each level's requirements, lifetimes and
   * responses. Several lines, for an operator.
   */
  public String explain(String machineClass, String audience) {
    MachineClass mc = classes.get(machineClass);
    if (mc == null) {
      return "class '" + machineClass + "' is not in the policy (classes: " + String.join(", ", classes.keySet())
          + "): its machines cannot log in.\n";
    }
    Level needed = mc.minimumFor(audience);
    StringBuilder b = new StringBuilder();
    b.append("class ").append(mc.name()).append(" (").append(mc.origin()).append("), audience ").append(audience).append('\n');
    b.append("needs level ").append(needed.name()).append(" (acr ").append(needed.acr()).append("): ")
        .append(mc.audienceRuleFor(audience)).append('\n');
    b.append("factors challenged at login: ").append(String.join(", ", factorsUpTo(mc, needed))).append('\n');
    b.append("to reach ").append(needed.name()).append(", all of these must hold:\n");
    for (Level l : mc.levels()) {
      if (l.rank() == needed.rank() + 1) b.append("higher levels (reached if their factors also pass; not needed for this audience):\n");
      b.append("  ").append(l.name()).append(" (").append(l.acr()).append("): ")
          .append(String.join(" and ", l.groups().stream().map(FactorGroup::describe).toList()))
          .append("; token ").append(format(l.tokenLifetime())).append(", certificate ").append(format(l.certificateLifetime())).append('\n');
    }
    Responses r = mc.responses();
    b.append("on clone: ").append(Responses.spelling(r.onClone())).append("; on factor failure: ")
        .append(Responses.spelling(r.factorFailure())).append("; on anomaly: ").append(Responses.spelling(r.anomaly())).append('\n');
    b.append(describeSsh(mc)).append('\n');
    b.append("acr order (weakest first): ").append(String.join(", ", acrOrder)).append('\n');
    return b.toString();
  }

  /** The class's SSH certificate grant in one line (what {@code policy explain} prints). */
  static String describeSsh(MachineClass mc) {
    if (mc.ssh().isEmpty()) return "ssh certificates: no ssh block; authority.conf's ssh.* options apply";
    SshGrant g = mc.ssh().get();
    return "ssh certificates: principals " + String.join(", ", g.principals()) + "; user " + format(g.userCertificateLifetime())
        + ", host " + format(g.hostCertificateLifetime())
        + g.forceCommand().map(c -> "; force-command " + c).orElse("")
        + g.minLevel().map(l -> "; user certificates need at least " + l + " (" + Level.ACR_PREFIX + l + ")").orElse("")
        + g.minLevel().filter(l -> mc.level(l).orElseThrow().rank() > mc.minimumFor(SSH_AUDIENCE).rank())
            .map(l -> " -- but audience " + SSH_AUDIENCE + " needs only " + mc.minimumFor(SSH_AUDIENCE).name()
                + ", so the agent's login for SSH will not reach " + l + " (add \"" + SSH_AUDIENCE + "\": " + l + " to audiences)")
            .orElse("");
  }

  /** The audience the agent logs in for to get SSH certificates (SshRequestAuthenticator.AUDIENCE; not imported: ssh depends on policy). */
  private static final String SSH_AUDIENCE = "m2mfa:ssh";

  /** One line per class: its levels, audience rules and origin (what {@code policy check} prints). */
  public String summary() {
    StringBuilder b = new StringBuilder();
    for (MachineClass mc : classes.values()) {
      b.append("class ").append(mc.name()).append(": ")
          .append(String.join(" < ", mc.levels().stream().map(Level::name).toList()));
      if (!mc.audiences().isEmpty()) {
        List<String> rules = new ArrayList<>();
        mc.audiences().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> rules.add(e.getKey() + " -> " + e.getValue()));
        b.append("; audiences ").append(String.join(", ", rules));
      }
      b.append(" (").append(mc.origin()).append(")\n");
    }
    b.append("acr order: ").append(String.join(", ", acrOrder)).append('\n');
    return b.toString();
  }

  /** 90 -> "90s", 300 -> "5m", 3600 -> "1h": the policy-file syntax. */
  public static String format(Duration d) {
    long s = d.toSeconds();
    if (s % 3600 == 0) return s / 3600 + "h";
    if (s % 60 == 0) return s / 60 + "m";
    return s + "s";
  }

  // ---------------------------------------------------------------- acr order across classes

  /**
   * A pair of acr values that {@code cls} orders against the order implied by earlier classes,
   * or empty. {@code edgesSoFar} accumulates the "lower -> higher" relation.
   */
  static Optional<String[]> addOrder(Map<String, Set<String>> edgesSoFar, MachineClass cls) {
    List<Level> ls = cls.levels();
    for (int i = 0; i + 1 < ls.size(); i++) {
      String lower = ls.get(i).acr();
      String higher = ls.get(i + 1).acr();
      if (reaches(edgesSoFar, higher, lower)) return Optional.of(new String[] {lower, higher});
      edgesSoFar.computeIfAbsent(lower, k -> new LinkedHashSet<>()).add(higher);
    }
    return Optional.empty();
  }

  private static boolean reaches(Map<String, Set<String>> edges, String from, String to) {
    Deque<String> todo = new ArrayDeque<>(List.of(from));
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      String n = todo.pop();
      if (n.equals(to)) return true;
      if (seen.add(n)) todo.addAll(edges.getOrDefault(n, Set.of()));
    }
    return false;
  }

  /**
   * The one order of all classes' acr values: the classes' level lists (edges, acyclic) must
   * chain every value to every other. Returns the order, or the first two values nothing
   * orders ({@code [earlier, later]} in order of appearance) as {@code incomparable}.
   */
  static List<String> mergeOrder(Collection<MachineClass> classes, Map<String, Set<String>> edges, String[] incomparable) {
    List<String> appearance = new ArrayList<>();
    for (MachineClass c : classes) for (Level l : c.levels()) if (!appearance.contains(l.acr())) appearance.add(l.acr());
    Map<String, Integer> indegree = new HashMap<>();
    for (String a : appearance) indegree.put(a, 0);
    for (Set<String> targets : edges.values()) for (String t : targets) indegree.merge(t, 1, Integer::sum);
    List<String> out = new ArrayList<>();
    List<String> remaining = new ArrayList<>(appearance);
    while (!remaining.isEmpty()) {
      List<String> ready = remaining.stream().filter(a -> indegree.get(a) == 0).toList();
      if (ready.isEmpty()) throw new IllegalStateException("acr order has a cycle");
      if (ready.size() > 1) {
        // two values with nothing between them: a relying service could not compare them
        incomparable[0] = ready.get(0);
        incomparable[1] = ready.get(1);
        return List.of();
      }
      String next = ready.getFirst();
      remaining.remove(next);
      out.add(next);
      for (String t : edges.getOrDefault(next, Set.of())) indegree.merge(t, -1, Integer::sum);
    }
    return out;
  }
}
