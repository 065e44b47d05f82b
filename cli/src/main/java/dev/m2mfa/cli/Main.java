package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.store.JdbcStore;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The one {@code m2mfa} command. Exit codes: 0 success; 1 refused or failed (a login denied,
 * a demo scene not ok, an audit chain broken); 2 usage error; 3 environment (no JDK 25,
 * build failed, files missing).
 */
@Command(name = "m2mfa", mixinStandardHelpOptions = true, version = "m2mfa 0.1.0",
    description = "Multi-factor authentication for machines.",
    footer = {"", "Examples:", "  m2mfa demo", "  m2mfa authority init --dir /var/lib/m2mfa", "  m2mfa agent login --dir /var/lib/m2mfa-agent --audience inventory",
        "", "Exit codes: 0 ok, 1 refused/failed, 2 usage, 3 environment."},
    subcommands = {Main.DemoCommand.class, Main.AuthorityCommand.class, Main.AdminCommand.class, Main.AgentCommand.class, BenchCommand.class,
        Main.DrillCommand.class, SshCommand.class, PolicyCommand.class, PostureCommand.class})
public final class Main {
  static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    System.exit(execute(args));
  }

  public static int execute(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println("m2mfa: " + (ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage()));
      return ex instanceof java.nio.file.NoSuchFileException || ex instanceof java.nio.file.AccessDeniedException ? 3 : 1;
    });
    return cl.execute(args);
  }

  @Command(name = "demo", mixinStandardHelpOptions = true,
      description = "Play the whole story on this machine: enroll, multi-factor login, offline verification, a stolen key and token refused, revocation measured.",
      footer = {"", "Examples:", "  m2mfa demo", "  m2mfa demo --json > result.json"})
  static final class DemoCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print one JSON object on stdout (narrative on stderr).")
    boolean json;

    @Override
    public Integer call() throws Exception {
      Demo demo = new Demo(json ? System.err : System.out);
      boolean ok = demo.run();
      if (json) System.out.println(demo.json());
      return ok ? 0 : 1;
    }
  }

  // ---------------------------------------------------------------- authority

  @Command(name = "authority", mixinStandardHelpOptions = true, description = "Create and run an authority.",
      subcommands = {AuthorityCommand.Init.class, AuthorityCommand.Serve.class})
  static final class AuthorityCommand {
    @Command(name = "init", mixinStandardHelpOptions = true,
        description = "Create an authority directory: config, CA (keys encrypted under the passphrase), admin client certificate (0600), database.",
        footer = {"", "The passphrase comes from --passphrase-file, $M2MFA_PASSPHRASE or a prompt; never from argv.", "",
            "Example:", "  m2mfa authority init --dir /var/lib/m2mfa --trust-domain prod.example --passphrase-file /run/secrets/ca"})
    static final class Init implements Callable<Integer> {
      @Option(names = "--dir", required = true) Path dir;
      @Option(names = "--trust-domain", defaultValue = "m2mfa.local") String trustDomain;
      @Option(names = "--admin", defaultValue = "ops", description = "Name of the first admin.") String admin;
      @Option(names = "--listen", defaultValue = "127.0.0.1:8443", description = "host:port to serve on.") String listen;
      @Option(names = "--passphrase-file") Path passphraseFile;

      @Override
      public Integer call() throws Exception {
        char[] pass = Passphrases.read(passphraseFile, "M2MFA_PASSPHRASE", "CA passphrase");
        AuthorityConfig d = AuthorityConfig.defaults();
        int colon = listen.lastIndexOf(':');
        AuthorityConfig cfg = new AuthorityConfig(trustDomain, listen.substring(0, colon), Integer.parseInt(listen.substring(colon + 1)),
            d.tokenLifetime(), d.certificateLifetime(), d.heartbeatInterval(), d.signingKeyRotation(), d.trustedProxies(), d.policyClasses(), d.options(), d.policyPath());
        Authority.init(dir, cfg, pass, admin);
        System.out.println("authority created in " + dir + "; trust root: " + dir.resolve("ca/ca.pem") + "; admin credential: " + dir.resolve("admin/"));
        return 0;
      }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve the authority over HTTPS until stopped.",
        footer = {"", "Example:", "  M2MFA_PASSPHRASE_FILE=... m2mfa authority serve --dir /var/lib/m2mfa --passphrase-file /run/secrets/ca"})
    static final class Serve implements Callable<Integer> {
      @Option(names = "--dir", required = true) Path dir;
      @Option(names = "--passphrase-file") Path passphraseFile;
      @Option(names = "--listen", description = "Override host:port from authority.conf.") String listen;

      @Override
      public Integer call() throws Exception {
        char[] pass = Passphrases.read(passphraseFile, "M2MFA_PASSPHRASE", "CA passphrase");
        long t0 = System.nanoTime();
        Authority a = Authority.open(dir, pass, c -> {
          if (listen == null) return c;
          int colon = listen.lastIndexOf(':');
          return c.withListen(listen.substring(0, colon), Integer.parseInt(listen.substring(colon + 1)));
        });
        a.start();
        System.out.printf("READY %d (%d ms)%n", a.port(), (System.nanoTime() - t0) / 1_000_000);
        System.out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(a::close));
        Thread.currentThread().join();
        return 0;
      }
    }
  }

  // ---------------------------------------------------------------- drill

  @Command(name = "drill", mixinStandardHelpOptions = true, description = "Exercises that attack a local authority and report what it caught.",
      subcommands = {DrillCommand.Clone.class})
  static final class DrillCommand {
    @Command(name = "clone", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Clone trials and crash-injected normal logins against a local authority (otp-chain factor).", "",
            "Normal logins crash at random before persisting or before acknowledging the next one-time secret; any refusal is a "
                + "false lock. Each trial copies an agent at a random point of its lineage and runs original and copy in random order "
                + "until the identity is locked. detection_logins_max counts logins from the second party's first login to the refused "
                + "one, over trials without crashes after the copy; detection_logins_max_with_crashes over all trials."},
        footer = {"", "Example:", "  m2mfa drill clone --trials 1000 --normal-logins 10000 --json"})
    static final class Clone implements Callable<Integer> {
      @Option(names = "--trials", defaultValue = "1000") int trials;
      @Option(names = "--normal-logins", defaultValue = "10000") int normalLogins;
      @Option(names = "--crash-rate", defaultValue = "0.2", description = "Share of logins that crash before persist or ack.") double crashRate;
      @Option(names = "--seed", description = "Random seed (default: time).") Long seed;
      @Option(names = "--dir", description = "Work directory (default: a temp directory, removed afterwards).") Path dir;
      @Option(names = "--json") boolean json;

      @Override
      public Integer call() throws Exception {
        if (trials < 1 || trials > 1_000_000 || normalLogins < 0 || normalLogins > 10_000_000 || crashRate < 0 || crashRate >= 1) {
          throw new CommandLine.ParameterException(new CommandLine(this), "trials 1-1000000, normal-logins 0-10000000, crash-rate 0-<1");
        }
        Path work = dir != null ? java.nio.file.Files.createDirectories(dir) : java.nio.file.Files.createTempDirectory("m2mfa-drill");
        try {
          var r = new CloneDrill(work, seed == null ? System.nanoTime() : seed, crashRate).run(trials, normalLogins);
          if (json) BenchSupport.printJson(r.json());
          else System.out.println(r.json());
          return r.detected() == r.trials() && r.falseLocks() == 0 ? 0 : 1;
        } finally {
          if (dir == null) {
            try (var s = java.nio.file.Files.walk(work)) {
              s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------- admin

  @Command(name = "admin", mixinStandardHelpOptions = true, description = "Admin calls, authenticated by the admin client certificate.",
      subcommands = {AdminCommand.JoinToken.class, AdminCommand.Revoke.class, AdminCommand.Reinstate.class, AdminCommand.Machines.class,
          AdminCommand.Machine.class, AdminCommand.Audit.class})
  static final class AdminCommand {
    static class Target {
      @Option(names = "--dir", required = true, description = "The authority directory (admin credential and trust root).") Path dir;
      @Option(names = "--authority", description = "host:port (default: listen address in authority.conf).") String authority;

      AdminClient client() throws Exception {
        AuthorityConfig cfg = AuthorityConfig.load(dir.resolve("authority.conf"));
        String host = cfg.listenHost();
        int port = cfg.listenPort();
        if (authority != null) {
          int colon = authority.lastIndexOf(':');
          host = authority.substring(0, colon);
          port = Integer.parseInt(authority.substring(colon + 1));
        }
        return AdminClient.forAuthorityDir(dir, host, port);
      }
    }

    static int machineAction(Target target, String name, String action, String reason) throws Exception {
      try (AdminClient c = target.client()) {
        System.out.println(c.post("/v1/admin/machines/" + name + "/" + action, Map.of("reason", reason)).toPrettyString());
      }
      return 0;
    }

    @Command(name = "join-token", mixinStandardHelpOptions = true, description = "Create a one-time join token for a machine (printed once).",
        footer = {"", "Example:", "  m2mfa admin join-token --dir /var/lib/m2mfa --name web-1 --cidr 10.1.0.0/24 --ttl 600"})
    static final class JoinToken implements Callable<Integer> {
      @CommandLine.Mixin Target target;
      @Option(names = "--name", required = true) String name;
      @Option(names = "--class", defaultValue = "default") String cls;
      @Option(names = "--cidr", description = "Bound network (repeatable). Default: the address it enrolls from.") List<String> cidrs = new ArrayList<>();
      @Option(names = "--ttl", defaultValue = "600", description = "Seconds the token is valid.") long ttl;

      @Override
      public Integer call() throws Exception {
        try (AdminClient c = target.client()) {
          JsonNode n = c.post("/v1/admin/join-tokens", Map.of("name", name, "class", cls, "cidrs", cidrs, "ttl_seconds", ttl));
          System.out.println(n.path("join_token").asText());
        }
        return 0;
      }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a machine: all its tokens and certificates, pushed to every verifier.",
        footer = {"", "Example:", "  m2mfa admin revoke --dir /var/lib/m2mfa web-1 --reason 'disk image leaked'"})
    static final class Revoke implements Callable<Integer> {
      @CommandLine.Mixin Target target;
      @Parameters(index = "0") String name;
      @Option(names = "--reason", defaultValue = "") String reason;

      @Override
      public Integer call() throws Exception {
        return machineAction(target, name, "revoke", reason);
      }
    }

    @Command(name = "reinstate", mixinStandardHelpOptions = true, description = "Re-enable a revoked machine.")
    static final class Reinstate implements Callable<Integer> {
      @CommandLine.Mixin Target target;
      @Parameters(index = "0") String name;
      @Option(names = "--reason", defaultValue = "") String reason;

      @Override
      public Integer call() throws Exception {
        return machineAction(target, name, "reinstate", reason);
      }
    }

    @Command(name = "machine", mixinStandardHelpOptions = true, description = "Bring back a machine the otp-chain locked.",
        subcommands = {Machine.Unlock.class, Machine.Reenroll.class})
    static final class Machine {
      @Command(name = "unlock", mixinStandardHelpOptions = true,
          description = "Unlock a machine locked after a detected clone, keeping its key and chain (a copy still holding a retired secret locks it again).",
          footer = {"", "Example:", "  m2mfa admin machine unlock --dir /var/lib/m2mfa web-1 --reason 'false alarm: restored from backup'"})
      static final class Unlock implements Callable<Integer> {
        @CommandLine.Mixin Target target;
        @Parameters(index = "0") String name;
        @Option(names = "--reason", defaultValue = "") String reason;

        @Override
        public Integer call() throws Exception {
          return machineAction(target, name, "unlock", reason);
        }
      }

      @Command(name = "reenroll", mixinStandardHelpOptions = true,
          description = "Print a one-time join token that re-enrolls a locked or revoked machine under its name with a new key and chain.",
          footer = {"", "Example:", "  m2mfa admin machine reenroll --dir /var/lib/m2mfa web-1 --ttl 600"})
      static final class Reenroll implements Callable<Integer> {
        @CommandLine.Mixin Target target;
        @Parameters(index = "0") String name;
        @Option(names = "--ttl", defaultValue = "600", description = "Seconds the token is valid.") long ttl;

        @Override
        public Integer call() throws Exception {
          try (AdminClient c = target.client()) {
            System.out.println(c.post("/v1/admin/machines/" + name + "/reenroll", Map.of("ttl_seconds", ttl)).path("join_token").asText());
          }
          return 0;
        }
      }
    }

    @Command(name = "machines", mixinStandardHelpOptions = true, description = "List enrolled machines.")
    static final class Machines implements Callable<Integer> {
      @CommandLine.Mixin Target target;

      @Override
      public Integer call() throws Exception {
        try (AdminClient c = target.client()) {
          System.out.println(c.get("/v1/admin/machines").toPrettyString());
        }
        return 0;
      }
    }

    @Command(name = "audit", mixinStandardHelpOptions = true, description = "Audit log tools.", subcommands = {Audit.Verify.class})
    static final class Audit {
      @Command(name = "verify", mixinStandardHelpOptions = true,
          description = "Check the audit hash chain and name the first broken record. Reads the database directly (offline).",
          footer = {"", "Example:", "  m2mfa admin audit verify --dir /var/lib/m2mfa"})
      static final class Verify implements Callable<Integer> {
        @Option(names = "--dir", required = true) Path dir;

        @Override
        public Integer call() throws Exception {
          Path db = dir.resolve("m2mfa.db");
          if (!Files.exists(db)) throw new java.nio.file.NoSuchFileException(db.toString());
          try (var store = JdbcStore.openSqlite(db)) {
            AuditLog.Verification v = AuditLog.verify(store);
            System.out.println(v.ok() ? "audit chain intact: " + v.records() + " records"
                : "audit chain BROKEN at record " + v.firstBroken() + " (of " + v.records() + ")");
            return v.ok() ? 0 : 1;
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------- agent

  @Command(name = "agent", mixinStandardHelpOptions = true, description = "The agent on a machine.",
      subcommands = {AgentCommand.Enroll.class, AgentCommand.Login.class, AgentCommand.Token.class, AgentDaemon.class, SshdSyncCommand.class,
          AgentKeyCommands.Unlock.class, AgentKeyCommands.Seal.class})
  static final class AgentCommand {
    @Command(name = "enroll", mixinStandardHelpOptions = true,
        description = "Generate the identity key here and enroll with a join token (read from a file, $M2MFA_JOIN_TOKEN or a prompt).",
        footer = {"", "Example:", "  m2mfa agent enroll --dir /var/lib/m2mfa-agent --authority auth.example:8443 --ca ca.pem --join-token-file /run/jt"})
    static final class Enroll implements Callable<Integer> {
      @Option(names = "--dir", required = true) Path dir;
      @Option(names = "--authority", required = true, description = "host:port") String authority;
      @Option(names = "--ca", required = true, description = "The authority's trust root (ca.pem), obtained out of band.") Path ca;
      @Option(names = "--join-token-file") Path joinTokenFile;
      @Option(names = "--passphrase-file", description = "Passphrase for the identity key file ($M2MFA_AGENT_PASSPHRASE or prompt otherwise).") Path passphraseFile;
      @Option(names = "--bind", description = "Local source address to connect from.") String bind;
      @Option(names = "--key-provider", defaultValue = "software", description = "Where the key lives: software, sealed, pkcs11, tpm (enrolls by TPM credential activation).") String keyProvider;
      @Option(names = "--key-option", description = "A provider option, stored in agent.conf as key.NAME (repeatable), e.g. library=/usr/lib/softhsm/libsofthsm2.so, slot=0, pin_file=/etc/m2mfa/pin; tpm: tcti=device:/dev/tpmrm0, handle=0x81000201; sealed: auto_unseal=tpm, auto_unseal_pcrs=sha256:7.") Map<String, String> keyOptions = new java.util.LinkedHashMap<>();

      @Override
      public Integer call() throws Exception {
        char[] token = Passphrases.read(joinTokenFile, "M2MFA_JOIN_TOKEN", "join token");
        int colon = authority.lastIndexOf(':');
        Agent a = Agent.enroll(dir, authority.substring(0, colon), Integer.parseInt(authority.substring(colon + 1)),
            Pem.certificate(Files.readString(ca)), new String(token), dev.m2mfa.agent.keys.KeyConfig.of(keyProvider, keyOptions),
            what -> Passphrases.read(passphraseFile, "M2MFA_AGENT_PASSPHRASE", what), bind == null ? null : InetAddress.ofLiteral(bind));
        System.out.println("enrolled as " + a.name() + " (" + a.certificate().getSubjectX500Principal() + ")");
        return 0;
      }
    }

    public static class AgentOptions {
      @Option(names = "--dir", required = true) Path dir;
      @Option(names = "--passphrase-file") Path passphraseFile;
      @Option(names = "--audience", required = true, description = "The relying service the token is for.") String audience;

      /** Opens the agent; a passphrase-sealed key is unlocked with the same passphrase sources (a share-sealed one stays locked). */
      Agent open() throws Exception {
        Agent a = openLocked();
        if (a.key() instanceof dev.m2mfa.agent.keys.SealedKey k && k.locked() && k.sharesNeeded() == 0) {
          char[] pass = Passphrases.read(passphraseFile, "M2MFA_AGENT_PASSPHRASE", "seal passphrase");
          try {
            k.unlockWithPassphrase(pass);
          } finally {
            java.util.Arrays.fill(pass, '\0');
          }
        }
        return a;
      }

      /** Opens the agent; a sealed key stays locked until an operator unlocks it. */
      Agent openLocked() throws Exception {
        return Agent.open(dir, what -> Passphrases.read(passphraseFile, "M2MFA_AGENT_PASSPHRASE", what), null);
      }
    }

    @Command(name = "login", mixinStandardHelpOptions = true, description = "Log in once and print the outcome (not the token).",
        footer = {"", "Example:", "  m2mfa agent login --dir /var/lib/m2mfa-agent --audience inventory"})
    static final class Login implements Callable<Integer> {
      @CommandLine.Mixin AgentOptions opts;

      @Override
      public Integer call() throws Exception {
        try {
          Agent.Credential c = opts.open().login(opts.audience);
          System.out.println("logged in: amr=" + c.amr() + " acr=" + c.acr() + " expires " + c.expiresAt());
          return 0;
        } catch (Agent.RefusedException e) {
          System.err.println("login refused (" + e.status() + "); the authority's audit log has the reason");
          return 1;
        }
      }
    }

    @Command(name = "token", mixinStandardHelpOptions = true, description = "Log in and print the access token on stdout (for pipes).")
    static final class Token implements Callable<Integer> {
      @CommandLine.Mixin AgentOptions opts;

      @Override
      public Integer call() throws Exception {
        System.out.println(opts.open().login(opts.audience).accessToken());
        return 0;
      }
    }
  }
}
