package dev.m2mfa.authority.factor.posture;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorOutcome;
import dev.m2mfa.api.factor.FactorStatus;
import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.api.posture.InvalidReportException;
import dev.m2mfa.api.posture.MeasurementDelta;
import dev.m2mfa.api.posture.MeasurementList;
import dev.m2mfa.api.posture.ReportChain;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.factor.AuthorityBound;
import dev.m2mfa.authority.store.Store;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Factor {@code posture}: the machine's self-measured state (files, packages, processes,
 * listeners, OS) matches its baseline.
 *
 * <p>Order of checks, each refusal a FAIL with a reason and nothing stored:
 * <ol>
 *   <li>shape and size: version, the challenge's nonce echoed (a stale nonce is a replayed or
 *       pre-computed report), a 64-hex digest, exactly one of {@code full} / {@code delta};
 *   <li>the list: bounded inflate, strict canonical decode ({@link MeasurementList#decode}); a
 *       delta must be against the last accepted report and apply cleanly;
 *   <li>the digest the agent claims (and signed in the transcript) equals the list's;
 *   <li>the anchor, when present or once seen: the {@link QuoteVerifier} ({@link TpmQuoteVerifier})
 *       vouches for a PCR value, the report chain replays to it, extends the chain accepted last,
 *       and holds no report between the two that this authority was not shown (a report judged
 *       with findings is remembered for the boot; one extended and withheld is not);
 *   <li>the baseline: machine's own, else its class's, else learned now (TOFU: PASS, stored
 *       and audited as trust on first use); the findings against it are the verdict.
 * </ol>
 * A clean report becomes the last accepted one (the base for the next delta). A report with
 * findings is FAIL with the readable findings as the reason; {@link #assess} exposes the
 * findings (kind + text) for the policy engine to map to deny, step-down or alert.
 *
 * <p>What this does not give: a subverted agent can report whatever it likes; anchoring in a
 * TPM quote only stops it from taking back a report it has extended (and only with a PCR that
 * a reboot alone resets); see docs/factors/posture.md.
 */
public final class PostureFactorVerifier implements FactorVerifier, AuthorityBound {
  public static final String NAME = "posture";
  /** factor_state key of the last accepted report per machine. */
  public static final String STATE = "posture";
  /** factor_state key of a machine's own baseline. */
  public static final String MACHINE_BASELINE = "posture.baseline";
  /** factor_state key of a class baseline (machine_name column = class name). */
  public static final String CLASS_BASELINE = "posture.class-baseline";
  /**
   * factor_state key of the anchored reports judged with findings since the PCR was last reset
   * ({@code {"reset_count":N,"digests":[hex…]}}): shown to the authority, so they may stand in a
   * later report chain; any other digest there was extended and withheld.
   */
  public static final String ANCHOR_SEEN = "posture.anchor-seen";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();
  /** The largest list/delta field accepted (base64url of deflate); the login caps evidence anyway. */
  private static final int MAX_FIELD_CHARS = 64 * 1024;
  private static final int MAX_STATE_CHARS = 64 * 1024 * 1024;

  private final byte[] decoySalt = new byte[32];
  private final QuoteVerifier quotes;
  private volatile Store store;
  private volatile AuditLog audit;

  public PostureFactorVerifier() {
    this(ServiceLoader.load(QuoteVerifier.class).findFirst().orElse(null));
  }

  /** @param quotes null when no TPM quote verifier is installed: anchored reports are then refused */
  public PostureFactorVerifier(QuoteVerifier quotes) {
    this.quotes = quotes;
    RANDOM.nextBytes(decoySalt);
  }

  @Override
  public void bind(Services services) {
    this.store = services.store();
    this.audit = services.audit();
    if (quotes instanceof AuthorityBound bound) bound.bind(services); // the TPM quote verifier reads the recorded AK
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Map<String, Object> challenge(EnrolledMachine machine) {
    Map<String, Object> c = new LinkedHashMap<>();
    byte[] nonce = new byte[32];
    RANDOM.nextBytes(nonce);
    c.put("nonce", Base64.getUrlEncoder().withoutPadding().encodeToString(nonce));
    State s;
    try {
      s = store == null ? null : loadState(machine.name()).orElse(null);
    } catch (RuntimeException e) {
      s = null; // unreadable state: no base offered; verify() fails closed on it
    }
    // a machine without history gets a stable stand-in base, so "base" does not tell who has logged in before
    c.put("base", s != null ? s.lastDigest : HexFormat.of().formatHex(sha256(decoySalt, machine.name().getBytes(StandardCharsets.UTF_8))));
    return c;
  }

  @Override
  public FactorOutcome verify(VerificationContext context, Map<String, Object> untrustedEvidence) {
    Assessment a = assess(context, untrustedEvidence);
    return new FactorOutcome(a.status(), a.reason());
  }

  /** The verdict with its findings (empty for a refusal or a pass). */
  public record Assessment(FactorStatus status, String reason, boolean refused, List<PostureFinding> findings) {
    public Assessment {
      findings = List.copyOf(findings);
    }

    static Assessment refused(String why) {
      return new Assessment(FactorStatus.FAIL, "posture evidence refused: " + why, true, List.of());
    }
  }

  public Assessment assess(VerificationContext context, Map<String, Object> ev) {
    Store st = store;
    if (st == null) return Assessment.refused("posture verifier is not bound to the authority store");
    String machine = context.machine().name();
    if (ev == null || ev.isEmpty()) return Assessment.refused("no posture evidence");
    if (!(ev.get("v") instanceof Integer v) || v != 1) return Assessment.refused("unsupported evidence version");
    Object wantNonce = context.challenge().get("nonce");
    if (!(ev.get("nonce") instanceof String nonce) || !(wantNonce instanceof String want)
        || !MessageDigest.isEqual(nonce.getBytes(StandardCharsets.UTF_8), want.getBytes(StandardCharsets.UTF_8))) {
      return Assessment.refused("stale or foreign nonce (not this login's challenge)");
    }
    byte[] claimed;
    try {
      claimed = ReportChain.parseDigest(ev.get("digest") instanceof String d ? d : null);
    } catch (InvalidReportException e) {
      return Assessment.refused("report digest " + e.getMessage());
    }
    Optional<State> prior = loadState(machine);
    MeasurementList report;
    try {
      boolean hasFull = ev.containsKey("full");
      boolean hasDelta = ev.containsKey("delta");
      if (hasFull == hasDelta) return Assessment.refused("exactly one of full or delta is required");
      String field = hasFull ? (ev.get("full") instanceof String s ? s : null) : (ev.get("delta") instanceof String s ? s : null);
      if (field == null) return Assessment.refused("report is not a string");
      if (field.length() > MAX_FIELD_CHARS) return Assessment.refused("report larger than " + MAX_FIELD_CHARS + " characters");
      byte[] packed;
      try {
        packed = Base64.getUrlDecoder().decode(field);
      } catch (IllegalArgumentException e) {
        return Assessment.refused("report is not base64url");
      }
      byte[] raw = MeasurementList.inflate(packed, MeasurementList.MAX_ENCODED_BYTES);
      if (hasFull) {
        report = MeasurementList.decode(raw);
      } else {
        if (prior.isEmpty()) return Assessment.refused("delta sent but no report was accepted before");
        if (!(ev.get("base") instanceof String base) || !base.equals(prior.get().lastDigest)) {
          return Assessment.refused("delta against a report that is not the last accepted one");
        }
        report = MeasurementDelta.decode(raw).apply(prior.get().lastList());
      }
    } catch (InvalidReportException e) {
      return Assessment.refused(e.getMessage());
    }
    if (!MessageDigest.isEqual(report.digest(), claimed)) return Assessment.refused("digest does not match the measurement list");

    List<String> log = null;
    Long resetCount = null;
    Object anchor = ev.get("anchor");
    if (anchor != null) {
      if (!(anchor instanceof Map<?, ?> am)) return Assessment.refused("anchor is not an object");
      if (quotes == null) return Assessment.refused("anchored report, but no TPM quote verifier is installed here");
      @SuppressWarnings("unchecked")
      Map<String, Object> anchorMap = (Map<String, Object>) am;
      QuoteVerifier.QuotedPcr q;
      try {
        q = quotes.verify(context.machine(), anchorMap, nonce.getBytes(StandardCharsets.US_ASCII));
      } catch (QuoteVerifier.AnchorException e) {
        return Assessment.refused("TPM quote does not hold: " + e.getMessage());
      } catch (RuntimeException e) {
        return Assessment.refused("TPM quote could not be checked");
      }
      ChainCheck chain = checkChain(anchorMap.get("log"), report.digest(), q, prior.orElse(null), seenDigests(machine, q.resetCount()));
      if (chain.error != null) return Assessment.refused(chain.error);
      log = chain.log;
      resetCount = q.resetCount();
    } else if (prior.isPresent() && prior.get().anchorLog != null) {
      return Assessment.refused("unanchored report from a machine whose reports were anchored before");
    }

    long now = System.currentTimeMillis();
    Resolved baseline = baselineFor(context.machine());
    if (baseline == null) {
      Baseline learned = Baseline.learn(report, now);
      List<String> acceptedLog = log;
      Long acceptedReset = resetCount;
      st.transaction(() -> {
        st.factorStates().put(machine, MACHINE_BASELINE, new String(learned.toJson(), StandardCharsets.UTF_8), now);
        saveState(machine, report, acceptedLog, acceptedReset, now);
        return null;
      });
      Map<String, Object> detail = new LinkedHashMap<>(learned.summary());
      detail.put("report_digest", report.digestHex());
      auditAppend("posture.baseline.learned", machine, detail);
      return new Assessment(FactorStatus.PASS, "baseline learned on first use (TOFU, trust on first use): " + report.size()
          + " measurements" + (log == null ? ", unanchored" : ", anchored"), false, List.of());
    }
    List<PostureFinding> findings = baseline.baseline.compare(report);
    if (!findings.isEmpty()) {
      Map<String, Object> detail = new LinkedHashMap<>();
      detail.put("baseline", baseline.scope);
      detail.put("report_digest", report.digestHex());
      detail.put("findings", findings.stream().map(f -> Map.of("kind", f.kind(), "text", f.text())).toList());
      if (log != null) rememberSeen(machine, resetCount, report.digestHex(), now); // shown, so it may stand in a later chain
      auditAppend("posture.findings", machine, detail);
      return new Assessment(FactorStatus.FAIL, Baseline.reason(findings), false, findings);
    }
    saveState(machine, report, log, resetCount, now);
    return new Assessment(FactorStatus.PASS, report.size() + " measurements match the " + baseline.scope + " baseline"
        + (baseline.baseline.trustOnFirstUse() ? " (learned on first use)" : "") + (log == null ? ", unanchored" : ", anchored"), false, List.of());
  }

  // ---- report chain (the TPM anchor's Java half)

  private record ChainCheck(String error, List<String> log) {}

  private static ChainCheck checkChain(Object untrustedLog, byte[] reportDigest, QuoteVerifier.QuotedPcr q, State prior,
      java.util.Set<String> seen) {
    if (!(untrustedLog instanceof List<?> raw) || raw.isEmpty()) return new ChainCheck("anchor has no report log", null);
    if (raw.size() > ReportChain.MAX_LOG) return new ChainCheck("report log longer than " + ReportChain.MAX_LOG, null);
    List<byte[]> log = new ArrayList<>();
    List<String> hex = new ArrayList<>();
    for (Object o : raw) {
      try {
        log.add(ReportChain.parseDigest(o instanceof String s ? s : null));
        hex.add((String) o);
      } catch (InvalidReportException e) {
        return new ChainCheck("report log entry: " + e.getMessage(), null);
      }
    }
    if (!MessageDigest.isEqual(log.getLast(), reportDigest)) return new ChainCheck("report log does not end with this report", null);
    if (!ReportChain.replaysTo(log, q.value())) return new ChainCheck("report chain does not replay to the quoted PCR value", null);
    int accepted = 0;
    if (prior != null && prior.anchorLog != null && prior.resetCount != null && prior.resetCount == q.resetCount()) {
      List<byte[]> before = prior.anchorLog.stream().map(ReportChain::parseDigest).toList();
      if (!ReportChain.extendsLog(before, log)) return new ChainCheck("report chain rewrites reports accepted before", null);
      accepted = before.size();
    }
    // between the accepted prefix and this report, only reports this authority was shown (and judged) may stand:
    // anything else was extended and then withheld, which is what the anchor exists to expose
    for (int i = accepted; i < hex.size() - 1; i++) {
      if (!seen.contains(hex.get(i))) {
        return new ChainCheck("report chain holds a report that was extended but never shown to the authority (withheld)", null);
      }
    }
    return new ChainCheck(null, hex);
  }

  /** Digests of anchored reports judged with findings for this reset count (empty for another boot or none). */
  private java.util.Set<String> seenDigests(String machine, long resetCount) {
    Optional<String> raw = store.factorStates().get(machine, ANCHOR_SEEN);
    if (raw.isEmpty() || raw.get().length() > MAX_STATE_CHARS) return java.util.Set.of();
    try {
      @SuppressWarnings("unchecked")
      Map<String, Object> m = JSON.readValue(raw.get(), Map.class);
      if (!(m.get("reset_count") instanceof Number n) || n.longValue() != resetCount) return java.util.Set.of();
      @SuppressWarnings("unchecked")
      List<String> digests = (List<String>) m.get("digests");
      return digests == null ? java.util.Set.of() : java.util.Set.copyOf(digests);
    } catch (Exception e) {
      return java.util.Set.of(); // unreadable: nothing counts as seen (fails closed)
    }
  }

  private void rememberSeen(String machine, long resetCount, String digestHex, long now) {
    java.util.Set<String> before = seenDigests(machine, resetCount);
    if (before.contains(digestHex) || before.size() >= ReportChain.MAX_LOG) return;
    List<String> digests = new ArrayList<>(before);
    digests.add(digestHex);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("reset_count", resetCount);
    m.put("digests", digests.stream().sorted().toList());
    try {
      store.factorStates().put(machine, ANCHOR_SEEN, JSON.writeValueAsString(m), now);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- baselines

  private record Resolved(Baseline baseline, String scope) {}

  private Resolved baselineFor(EnrolledMachine m) {
    Optional<String> own = store.factorStates().get(m.name(), MACHINE_BASELINE);
    if (own.isPresent()) return new Resolved(Baseline.fromJson(own.get().getBytes(StandardCharsets.UTF_8)), "machine");
    Optional<String> cls = store.factorStates().get(m.policyClass(), CLASS_BASELINE);
    return cls.map(s -> new Resolved(Baseline.fromJson(s.getBytes(StandardCharsets.UTF_8)), "class " + m.policyClass())).orElse(null);
  }

  /** Stores {@code b} for a machine or, with {@code forClass}, for a class (replaces any before). */
  public static void storeBaseline(Store store, String name, boolean forClass, Baseline b) {
    store.factorStates().put(name, forClass ? CLASS_BASELINE : MACHINE_BASELINE, new String(b.toJson(), StandardCharsets.UTF_8),
        System.currentTimeMillis());
  }

  public static Optional<Baseline> storedBaseline(Store store, String name, boolean forClass) {
    return store.factorStates().get(name, forClass ? CLASS_BASELINE : MACHINE_BASELINE)
        .map(s -> Baseline.fromJson(s.getBytes(StandardCharsets.UTF_8)));
  }

  // ---- per machine state: the last accepted report

  private record State(String lastDigest, String lastListB64, List<String> anchorLog, Long resetCount) {
    MeasurementList lastList() {
      return MeasurementList.decode(MeasurementList.inflate(Base64.getDecoder().decode(lastListB64), MeasurementList.MAX_ENCODED_BYTES));
    }
  }

  private Optional<State> loadState(String machine) {
    Optional<String> raw = store.factorStates().get(machine, STATE);
    if (raw.isEmpty() || raw.get().length() > MAX_STATE_CHARS) return Optional.empty();
    try {
      @SuppressWarnings("unchecked")
      Map<String, Object> m = JSON.readValue(raw.get(), Map.class);
      @SuppressWarnings("unchecked")
      List<String> log = (List<String>) m.get("anchor_log");
      Number reset = (Number) m.get("reset_count");
      return Optional.of(new State((String) m.get("last_digest"), (String) m.get("last_list"), log, reset == null ? null : reset.longValue()));
    } catch (Exception e) {
      throw new IllegalStateException("stored posture state of " + machine + " is unreadable");
    }
  }

  private void saveState(String machine, MeasurementList report, List<String> log, Long resetCount, long now) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("last_digest", report.digestHex());
    m.put("last_list", Base64.getEncoder().encodeToString(MeasurementList.deflate(report.encode())));
    m.put("accepted_at", now);
    if (log != null) {
      m.put("anchor_log", log);
      m.put("reset_count", resetCount);
    }
    try {
      store.factorStates().put(machine, STATE, JSON.writeValueAsString(m), now);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private void auditAppend(String event, String machine, Map<String, Object> detail) {
    AuditLog a = audit;
    if (a != null) a.appendAndWait(event, machine, detail);
  }

  private static byte[] sha256(byte[] a, byte[] b) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(a);
      md.update(b);
      return md.digest();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
