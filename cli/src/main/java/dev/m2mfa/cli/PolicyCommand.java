package dev.m2mfa.cli;

import dev.m2mfa.api.MachineName;
import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.policy.MachineClass;
import dev.m2mfa.authority.policy.Policy;
import dev.m2mfa.authority.policy.PolicyError;
import dev.m2mfa.authority.policy.PolicyException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import org.sqlite.SQLiteConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code m2mfa policy check|explain}: operator tools for policy files (docs/policy.md).
 *
 * <p>{@code check} is offline: it compiles the files exactly as the authority would and prints
 * every error as {@code file:line:col: message}. The factor names it accepts are those with a
 * verifier on this command's class path (the same {@code ServiceLoader} lookup the authority
 * does), or the list given with {@code --factors} when checking for an authority with other
 * plug-ins.
 *
 * <p>{@code explain} runs on the authority host: it reads {@code authority.conf}, the policy it
 * names (or the legacy {@code class.*} lines) and the machine's class from {@code m2mfa.db}.
 * The database is opened directly and read-only (SQLite {@code SQLITE_OPEN_READONLY}, no
 * migration), which is safe next to a running authority (WAL readers do not block the
 * writer) and needs no admin credential: whoever can read the authority's directory can read
 * the database file anyway.
 */
@Command(name = "policy", mixinStandardHelpOptions = true, description = "Check policy files and explain what a machine needs.",
    subcommands = {PolicyCommand.Check.class, PolicyCommand.Explain.class})
public final class PolicyCommand {

  /** The factor names that have a verifier on this class path. */
  static Set<String> installedFactors() {
    Set<String> names = new TreeSet<>();
    for (FactorVerifier v : ServiceLoader.load(FactorVerifier.class)) names.add(v.name());
    return names;
  }

  static Set<String> factors(List<String> given) {
    if (given == null || given.isEmpty()) return installedFactors();
    Set<String> out = new TreeSet<>();
    for (String g : given) for (String f : g.split(",")) if (!f.isBlank()) out.add(f.strip());
    return out;
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = {"Validate policy files offline, as the authority would load them together.",
          "Prints a summary and exits 0, or prints every error as file:line:col: message and exits 1."},
      footer = {"", "Examples:", "  m2mfa policy check /etc/m2mfa/policy.d", "  m2mfa policy check examples/policy.yaml",
          "  m2mfa policy check --factors key,network,otp-chain,hardware,posture policy.yaml"})
  static final class Check implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "FILE", description = "Policy files or directories of *.yaml / *.yml files.")
    List<Path> files;

    @Option(names = "--factors", split = ",", paramLabel = "NAME",
        description = "Factor names to accept (default: the factors installed with this command).")
    List<String> factorNames;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      Set<String> installed = factors(factorNames);
      try {
        Policy p = Policy.load(files, installed);
        int levels = 0;
        for (String c : p.classNames()) levels += p.machineClass(c).orElseThrow().levels().size();
        out.println("ok: " + p.classNames().size() + " classes, " + levels + " levels (factors known: " + String.join(", ", installed) + ")");
        out.print(p.summary());
        out.flush();
        return 0;
      } catch (PolicyException e) {
        for (PolicyError error : e.errors()) err.println(error);
        err.println(e.errors().size() + (e.errors().size() == 1 ? " error" : " errors"));
        err.flush();
        return 1;
      }
    }
  }

  @Command(name = "explain", mixinStandardHelpOptions = true,
      description = {"Say which factors a machine needs now, for which level, and why.",
          "Reads authority.conf, its policy and the machine's class from the authority's database (read-only)."},
      footer = {"", "Examples:", "  m2mfa policy explain web-1 --audience payments --dir /var/lib/m2mfa",
          "", "Exit codes: 0 explained, 1 unknown machine or invalid policy, 3 no authority in --dir."})
  static final class Explain implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MACHINE") String machine;

    @Option(names = "--audience", paramLabel = "A", description = "The audience the machine logs in for (default: one not listed, so the \"*\" rule).")
    String audience;

    @Option(names = "--dir", paramLabel = "AUTHORITY_DIR", defaultValue = ".", description = "The authority's directory (default: ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--factors", split = ",", paramLabel = "NAME", description = "Factor names to accept (default: the installed ones).")
    List<String> factorNames;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      Path conf = dir.resolve("authority.conf");
      Path db = dir.resolve("m2mfa.db");
      if (!Files.isRegularFile(conf) || !Files.isRegularFile(db)) {
        err.println("m2mfa: no authority in " + dir + " (authority.conf and m2mfa.db expected)");
        err.flush();
        return 3;
      }
      if (!MachineName.isValid(machine)) {
        err.println("m2mfa: '" + machine + "' is not a valid machine name");
        err.flush();
        return 1;
      }
      AuthorityConfig config = AuthorityConfig.load(conf);
      Policy policy;
      String source;
      if (config.policyPath().isPresent()) {
        try {
          policy = Policy.load(List.of(config.policyPath().get()), factors(factorNames));
        } catch (PolicyException e) {
          for (PolicyError error : e.errors()) err.println(error);
          err.println("m2mfa: the policy named in " + conf + " does not load; the authority keeps its last good policy");
          err.flush();
          return 1;
        }
        source = "policy " + config.policyPath().get();
      } else {
        policy = Policy.fromLegacyClasses(config.policyClasses(), config.tokenLifetime(), config.certificateLifetime());
        source = "class lines of " + conf + " (legacy: one level, all factors required)";
      }
      String[] row = readMachine(db, machine);
      if (row == null) {
        err.println("m2mfa: no machine named " + machine + " in " + db);
        err.flush();
        return 1;
      }
      String cls = row[0];
      String status = row[1];
      String aud = audience == null ? "(any audience not listed)" : audience;
      out.println("machine " + machine + ": class " + cls + ", status " + status + "; " + source);
      if (!"active".equals(status)) out.println("status " + status + ": every login is refused until an admin reinstates it");
      out.print(policy.explain(cls, aud));
      if (audience == null) {
        policy.machineClass(cls).map(MachineClass::audiences).filter(a -> !a.isEmpty()).ifPresent(a -> {
          List<String> rules = new ArrayList<>();
          a.entrySet().stream().sorted(java.util.Map.Entry.comparingByKey()).forEach(e -> rules.add(e.getKey() + " -> " + e.getValue()));
          out.println("audience rules of class " + cls + ": " + String.join(", ", rules) + " (use --audience to see one)");
        });
      }
      out.flush();
      return 0;
    }

    /** (class, status) of the machine, or null; the database opened read-only. */
    private static String[] readMachine(Path db, String name) throws SQLException {
      SQLiteConfig ro = new SQLiteConfig();
      ro.setReadOnly(true);
      ro.setBusyTimeout(5000);
      try (Connection c = ro.createConnection("jdbc:sqlite:" + db.toAbsolutePath());
          PreparedStatement s = c.prepareStatement("SELECT policy_class, status FROM machines WHERE name = ?")) {
        s.setString(1, name);
        try (ResultSet r = s.executeQuery()) {
          return r.next() ? new String[] {r.getString(1), r.getString(2)} : null;
        }
      }
    }
  }
}
