package dev.m2mfa.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code m2mfa bench}: end-to-end benchmarks on this machine, each against a throw-away
 * in-process authority on loopback TLS. With {@code --json} each prints exactly one JSON object
 * on stdout; otherwise a short human summary. Progress goes to stderr, and only when stderr is a
 * terminal. docs/PERFORMANCE.md has the figures and what they mean; the JMH micro-benchmarks
 * are in the bench module.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Measure logins, token verification, revocation propagation and capacity on this machine.",
    footer = {"", "Examples:", "  m2mfa bench login --seconds 30 --concurrency 4 --json", "  m2mfa bench verify --threads 2",
        "  m2mfa bench revocation --verifiers 100 --rounds 20", "  m2mfa bench capacity --machines 100000 --json",
        "", "Take figures on a quiet machine (see `uptime`); docs/PERFORMANCE.md says how they were taken."},
    subcommands = {BenchCommand.Login.class, BenchCommand.Verify.class, BenchCommand.Revocation.class, BenchCommand.Capacity.class, BenchPosture.class})
public final class BenchCommand {

  static int finish(Map<String, Object> result, boolean json, java.util.function.BiConsumer<Map<String, Object>, java.io.PrintStream> human)
      throws Exception {
    if (json) BenchSupport.printJson(result);
    else human.accept(result, System.out);
    Object errors = result.get("errors");
    return errors instanceof Number n && n.longValue() > 0 ? 1 : 0;
  }

  @Command(name = "login", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Logins per second, against the public-key work they need.", "", "C workers, each with its own enrolled machine (bound to its own 127.0.x.y/32), "
          + "loop agent.login() against an in-process authority. Every login is a new TLS 1.3 connection with a full "
          + "(mutual) handshake, then start and finish. In the same run, the public-key operations one login needs are "
          + "measured alone on C threads, giving crypto_floor_per_s and ratio = logins_per_s / crypto_floor_per_s.",
          "", "JSON fields: logins_per_s, p50_ms, p99_ms, crypto_floor_per_s, ratio, machines, concurrency, seconds, errors, "
              + "and the per-operation rates and counts behind the floor."},
      footer = {"", "Examples:", "  m2mfa bench login", "  m2mfa bench login --seconds 30 --concurrency 8 --warmup 10 --json",
          "  m2mfa bench login --tls-resumption   # what a long-running agent does after its first login",
          "", "Exit code 1 if any login failed during the measured phase."})
  static final class Login implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "10", description = "Measured seconds (default ${DEFAULT-VALUE}).") int seconds;
    @Option(names = "--concurrency", defaultValue = "4", description = "Concurrent workers = enrolled machines (default ${DEFAULT-VALUE}).") int concurrency;
    @Option(names = "--warmup", defaultValue = "5", description = "Seconds of logins before measuring (default ${DEFAULT-VALUE}).") int warmup;
    @Option(names = "--tls-resumption", description = "Let the agents resume their TLS session (PSK with ECDHE, no certificates) instead of a full handshake per login.")
    boolean resumption;
    @Option(names = "--floor-millis", defaultValue = "2000", description = "Measured milliseconds per crypto operation for the floor (default ${DEFAULT-VALUE}).")
    long floorMillis;
    @Option(names = "--json", description = "Print one JSON object on stdout.") boolean json;
    @Option(names = "--key-provider", defaultValue = "software", description = "Where the machines' keys live: software, sealed, pkcs11 (SoftHSM2), tpm (a swtpm started for the run, or $M2MFA_BENCH_TPM_TCTI) (default ${DEFAULT-VALUE}).")
    String keyProvider;

    @Override
    public Integer call() throws Exception {
      BenchKeys.check(keyProvider);
      if (BenchKeys.needsSoftHsmChild(keyProvider)) return BenchKeys.runInSoftHsmChild();
      BenchLogin.Options o = new BenchLogin.Options();
      o.seconds = seconds;
      o.concurrency = concurrency;
      o.warmup = warmup;
      o.tlsResumption = resumption;
      o.floorMillis = floorMillis;
      o.keyProvider = keyProvider;
      return finish(BenchLogin.run(o, new BenchSupport.Progress()), json, BenchLogin::printHuman);
    }
  }

  @Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Token verifications per second, against the bare signature checks they contain.", "", "TokenVerifier.verify on T threads, each call with a fresh DPoP proof "
          + "(proofs are made before each timed round of at most 10 s: the replay cache refuses a reused jti and the "
          + "proof's iat must be within the verifier's +-60 s window), against the bare ES256 verifications the call "
          + "contains (token and proof signatures, BouncyCastle with BC key objects, as the verifier uses it).",
          "", "JSON fields: verify_per_s, raw_verify_per_s, ratio, threads, seconds, errors. No cached_verify_per_s: the "
              + "verifier caches JWKS keys, not verification results."},
      footer = {"", "Examples:", "  m2mfa bench verify", "  m2mfa bench verify --seconds 20 --threads 2 --json"})
  static final class Verify implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "10", description = "Measured seconds (default ${DEFAULT-VALUE}).") int seconds;
    @Option(names = "--threads", defaultValue = "2", description = "Verifying threads (default ${DEFAULT-VALUE}).") int threads;
    @Option(names = "--warmup", defaultValue = "3", description = "Seconds of verifications before measuring (default ${DEFAULT-VALUE}).") int warmup;
    @Option(names = "--json", description = "Print one JSON object on stdout.") boolean json;

    @Override
    public Integer call() throws Exception {
      BenchVerify.Options o = new BenchVerify.Options();
      o.seconds = seconds;
      o.threads = threads;
      o.warmup = warmup;
      return finish(BenchVerify.run(o, new BenchSupport.Progress()), json, BenchVerify::printHuman);
    }
  }

  @Command(name = "revocation", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Time from a revoke call until every verifier has applied it.", "", "N TokenVerifiers, each following the authority's revocation stream over its own "
          + "HTTPS connection. Each round enrolls a machine, revokes it through the admin API and times from just before "
          + "the revoke call until every verifier's onRevocation listener has seen it.",
          "", "JSON fields: p50_ms, p99_ms, max_ms (over rounds, of the slowest verifier), verifiers, rounds."},
      footer = {"", "Examples:", "  m2mfa bench revocation --verifiers 100", "  m2mfa bench revocation --verifiers 100 --rounds 50 --json"})
  static final class Revocation implements Callable<Integer> {
    @Option(names = "--verifiers", defaultValue = "100", description = "Verifiers, one stream each (default ${DEFAULT-VALUE}).") int verifiers;
    @Option(names = "--rounds", defaultValue = "20", description = "Measured revocations (default ${DEFAULT-VALUE}).") int rounds;
    @Option(names = "--warmup", defaultValue = "3", description = "Revocations before measuring (default ${DEFAULT-VALUE}).") int warmup;
    @Option(names = "--json", description = "Print one JSON object on stdout.") boolean json;

    @Override
    public Integer call() throws Exception {
      BenchRevocation.Options o = new BenchRevocation.Options();
      o.verifiers = verifiers;
      o.rounds = rounds;
      o.warmupRounds = warmup;
      Map<String, Object> r = BenchRevocation.run(o, new BenchSupport.Progress());
      if (json) BenchSupport.printJson(r);
      else BenchRevocation.printHuman(r, System.out);
      return ((Number) r.get("timeouts")).intValue() > 0 ? 1 : 0;
    }
  }

  @Command(name = "capacity", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Authority memory (RSS) and time to ready with N enrolled machines.", "", "Inserts N machine rows straight into a new authority's store "
          + "(enrolling 100,000 machines over TLS would take far too long), starts `m2mfa authority serve` as a child "
          + "process with this JVM's options, enrolls a few machines and logs in over TLS, then reads the child's VmRSS.",
          "", "JSON fields: machines, rss_mb, ready_ms (Authority.open to listening, as `authority serve` prints it), "
              + "ready_wall_ms (from process start, with JVM start-up)."},
      footer = {"", "Examples:", "  m2mfa bench capacity --machines 100000 --json", "  m2mfa bench capacity --machines 0"})
  static final class Capacity implements Callable<Integer> {
    @Option(names = "--machines", defaultValue = "100000", description = "Machine rows to insert (default ${DEFAULT-VALUE}).") int machines;
    @Option(names = "--agents", defaultValue = "2", description = "Machines that really enroll and log in (default ${DEFAULT-VALUE}).") int agents;
    @Option(names = "--logins", defaultValue = "20", description = "Logins before RSS is read (default ${DEFAULT-VALUE}).") int logins;
    @Option(names = "--json", description = "Print one JSON object on stdout.") boolean json;

    @Override
    public Integer call() throws Exception {
      BenchCapacity.Options o = new BenchCapacity.Options();
      o.machines = machines;
      o.agents = agents;
      o.logins = logins;
      Map<String, Object> r = BenchCapacity.run(o, new BenchSupport.Progress());
      if (json) BenchSupport.printJson(r);
      else BenchCapacity.printHuman(r, System.out);
      return 0;
    }
  }
}
