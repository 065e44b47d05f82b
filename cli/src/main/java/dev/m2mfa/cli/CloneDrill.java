package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.otp.OtpChainState;
import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.factor.FactorStatus;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.factor.otpchain.OtpChainFactor;
import dev.m2mfa.authority.login.LoginService;
import dev.m2mfa.authority.store.MachineRecord;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.Signature;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The clone drill behind {@code m2mfa drill clone}: a local authority (its real login service,
 * otp-chain factor and SQLite store, in process, without the HTTP layer) and agents whose
 * otp-chain half is the real agent code ({@link OtpChainState}: HPKE open, fsync, rename; the
 * chain key stays in memory so that thousands of enrollments do not spend the drill on PBKDF2).
 *
 * <p>Normal logins run with crashes injected before the next secret is persisted or before it is
 * acknowledged; any refusal there is a false lock. Each clone trial copies an agent's files at a
 * random point of its lineage, then runs original and copy in random order (with the same crash
 * injection) until the identity is locked. A trial's detection count is the number of logins
 * from the second party's first login up to and including the one that was refused.
 */
final class CloneDrill {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String AUDIENCE = "drill";
  private static final java.security.Provider BC = new org.bouncycastle.jce.provider.BouncyCastleProvider();

  enum Crash { NONE, BEFORE_PERSIST, BEFORE_ACK }

  enum Outcome { OK, REFUSED }

  /** The drill's result; field names are the JSON output's. */
  record Result(int trials, int detected, int normalLogins, int falseLocks, int detectionLoginsMax,
      int detectionLoginsMaxWithCrashes, double crashRate, long millis) {
    Map<String, Object> json() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("trials", trials);
      m.put("detected", detected);
      m.put("normal_logins", normalLogins);
      m.put("false_locks", falseLocks);
      m.put("detection_logins_max", detectionLoginsMax);
      m.put("detection_logins_max_with_crashes", detectionLoginsMaxWithCrashes);
      m.put("crash_rate", crashRate);
      m.put("millis", millis);
      return m;
    }
  }

  private final Path dir;
  private final Random random;
  private final double crashRate;
  private final InetAddress source = InetAddress.ofLiteral("127.0.0.2");
  private static final SecureRandom secure = new SecureRandom();
  private Authority authority;
  private final java.util.concurrent.atomic.AtomicInteger machines = new java.util.concurrent.atomic.AtomicInteger();

  CloneDrill(Path dir, long seed, double crashRate) {
    this.dir = dir;
    this.random = new Random(seed);
    this.crashRate = crashRate;
  }

  Result run(int trials, int normalLogins) throws Exception {
    long t0 = System.nanoTime();
    char[] pass = "clone drill passphrase".toCharArray();
    Authority.init(dir.resolve("authority"), AuthorityConfig.defaults(), pass, "drill");
    try (Authority a = Authority.open(dir.resolve("authority"), pass, c -> c.withListen("127.0.0.1", 0));
        var pool = java.util.concurrent.Executors.newFixedThreadPool(Math.max(2, Runtime.getRuntime().availableProcessors()))) {
      this.authority = a;
      long seed = random.nextLong();
      // normal logins: machines of up to 500 logins each, in parallel
      List<java.util.concurrent.Future<Integer>> normal = new java.util.ArrayList<>();
      for (int done = 0, m = 0; done < normalLogins; done += 500, m++) {
        int n = Math.min(500, normalLogins - done);
        Random r = new Random(seed + m);
        normal.add(pool.submit(() -> {
          int falseLocks = 0;
          DrillAgent agent = enroll();
          for (int i = 0; i < n; i++) {
            if (agent.login(crash(r)) == Outcome.REFUSED) falseLocks++;
          }
          if (status(agent.name).equals(MachineRecord.LOCKED)) falseLocks++;
          return falseLocks;
        }));
      }
      List<java.util.concurrent.Future<int[]>> runs = new java.util.ArrayList<>();
      for (int t = 0; t < trials; t++) {
        int trial = t;
        Random r = new Random(~seed + trial);
        runs.add(pool.submit(() -> trial(trial, r)));
      }
      int falseLocks = 0;
      for (var f : normal) falseLocks += f.get();
      int detected = 0;
      int worst = 0;
      int worstWithCrashes = 0;
      for (var f : runs) {
        int[] r = f.get(); // {caught, sinceSecondEntered, crashedAfterSplit, falseLocksBeforeSplit}
        detected += r[0];
        if (r[2] == 1) worstWithCrashes = Math.max(worstWithCrashes, r[1]);
        else worst = Math.max(worst, r[1]);
        falseLocks += r[3];
      }
      worstWithCrashes = Math.max(worstWithCrashes, worst);
      return new Result(trials, detected, normalLogins, falseLocks, worst, worstWithCrashes, crashRate, (System.nanoTime() - t0) / 1_000_000);
    } finally {
      this.authority = null;
    }
  }

  /** One clone trial; returns {caught, logins since the second party entered, crashed after the split, false locks before it}. */
  private int[] trial(int t, Random random) throws Exception {
    int falseLocks = 0;
    DrillAgent original = enroll();
    int before = random.nextInt(6);
    for (int i = 0; i < before; i++) {
      if (original.login(crash(random)) == Outcome.REFUSED) falseLocks++;
    }
    DrillAgent copy = original.copy(dir.resolve("copy-" + t));
    DrillAgent[] parties = {original, copy};
    boolean[] entered = new boolean[2];
    int sinceSecondEntered = 0;
    boolean crashedAfterSplit = false;
    boolean caught = false;
    for (int step = 0; step < 400 && !caught; step++) {
      int who = random.nextInt(2);
      Crash c = crash(random);
      crashedAfterSplit |= c != Crash.NONE;
      entered[who] = true;
      if (entered[0] && entered[1]) sinceSecondEntered++;
      if (parties[who].login(c) == Outcome.REFUSED) caught = status(original.name).equals(MachineRecord.LOCKED);
    }
    return new int[] {caught ? 1 : 0, sinceSecondEntered, crashedAfterSplit ? 1 : 0, falseLocks};
  }

  private Crash crash(Random random) {
    if (random.nextDouble() >= crashRate) return Crash.NONE;
    return random.nextBoolean() ? Crash.BEFORE_PERSIST : Crash.BEFORE_ACK;
  }

  private String status(String name) {
    return authority.store().machines().find(name).orElseThrow().status();
  }

  private DrillAgent enroll() throws Exception {
    String name = "drill-" + machines.getAndIncrement();
    Path agentDir = dir.resolve(name);
    Files.createDirectories(agentDir);
    KeyPair key = KeyFiles.newP256();
    OtpChainState otp = OtpChainState.createInMemoryForDrill(agentDir);
    String token = authority.enrollment().createJoinToken(name, "default", List.of("127.0.0.0/8"), Duration.ofMinutes(10), "drill").token();
    var csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=drill"), key.getPublic())
        .build(new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate()));
    var enrolled = authority.enrollment().enroll(token, Pem.encode(csr), null, Base64.getUrlDecoder().decode(otp.publicKey()), source)
        .orElseThrow(() -> new IllegalStateException("drill enrollment refused"));
    otp.accept(name, enrolled.otpFirst().enc(), enrolled.otpFirst().ciphertext());
    return new DrillAgent(name, agentDir, key, otp);
  }

  /** One agent lineage: the identity key (in memory) and the real agent-side chain files. */
  private final class DrillAgent {
    final String name;
    final Path dir;
    final KeyPair key;
    final OtpChainState otp;

    DrillAgent(String name, Path dir, KeyPair key, OtpChainState otp) {
      this.name = name;
      this.dir = dir;
      this.key = key;
      this.otp = otp;
    }

    /** A copy of this agent's files, as a disk image or VM snapshot would carry them. */
    DrillAgent copy(Path to) throws IOException {
      Files.createDirectories(to);
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : files.toList()) Files.copy(f, to.resolve(f.getFileName()));
      }
      return new DrillAgent(name, to, key, otp.sameKeyIn(to));
    }

    Outcome login(Crash crash) throws Exception {
      LoginService login = authority.login();
      byte[] exporter = new byte[32];
      secure.nextBytes(exporter);
      byte[] challenge = login.start(name, AUDIENCE, exporter);
      JsonNode c = JSON.readTree(challenge);
      Map<String, Object> evidence = new LinkedHashMap<>();
      evidence.put("key", Map.of());
      evidence.put("network", Map.of());
      evidence.put("otp-chain", otp.evidence());
      byte[] evidenceBytes = JSON.writeValueAsBytes(evidence);
      Signature s = Signature.getInstance("SHA256withECDSA", BC);
      s.initSign(key.getPrivate());
      s.update(LoginTranscript.bytes(challenge, exporter, evidenceBytes));
      Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
      var ok = login.finish(c.path("session").asText(), b64.encodeToString(evidenceBytes), b64.encodeToString(s.sign()), exporter, source,
          null, false);
      if (ok.isEmpty()) return Outcome.REFUSED;
      @SuppressWarnings("unchecked")
      Map<String, Object> next = (Map<String, Object>) ok.get().responseExtras().get("otp_next");
      if (crash == Crash.BEFORE_PERSIST) return Outcome.OK;
      otp.accept(name, (String) next.get("enc"), (String) next.get("ciphertext"));
      if (crash == Crash.BEFORE_ACK) return Outcome.OK;
      OtpChainFactor factor = authority.otpChain().orElseThrow();
      return factor.acknowledge(name, otp.evidence(), source).status() == FactorStatus.PASS ? Outcome.OK : Outcome.REFUSED;
    }
  }
}
