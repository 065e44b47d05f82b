package dev.m2mfa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.MachineRecord;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code m2mfa policy check} and {@code m2mfa policy explain}, run through the real command line. */
class PolicyCommandTest {
  static final String ALL_FACTORS = "key,network,otp-chain,hardware,posture";

  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int exit = cl.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void theExamplePolicyPassesTheCheck() {
    Run r = run("policy", "check", "--factors", ALL_FACTORS, "../examples/policy.yaml");
    assertThat(r.err()).isEmpty();
    assertThat(r.exit()).isZero();
    assertThat(r.out()).startsWith("ok: 2 classes, 5 levels (factors known: hardware, key, network, otp-chain, posture)\n");
    assertThat(r.out()).contains("class web: baseline < strong < hardware; audiences * -> baseline, ledger -> hardware, payments -> strong");
    assertThat(r.out()).contains("acr order: m2mfa:baseline, m2mfa:strong, m2mfa:hardware\n");
  }

  @Test
  void withoutFactorsTheInstalledVerifiersDecide() throws Exception {
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, "classes:\n  web:\n    levels:\n      - {name: baseline, all_of: [key, network]}\n      - {name: strong, all_of: [tpm-magic]}\n");
    Run r = run("policy", "check", f.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).startsWith(f + ":5:33: unknown factor 'tpm-magic' (installed: ");
    assertThat(r.err()).contains("key", "network");
  }

  @Test
  void everyErrorIsPrintedAsFileLineColumn() throws Exception {
    Path f = dir.resolve("bad.yaml");
    Files.writeString(f, """
        classes:
          web:
            levels:
              - name: baseline
                all_of: [key, netwrk]
                token_lifetime: 10m
            audiences:
              payments: strong
            on:
              factor_failure: shrug
        """);
    Run r = run("policy", "check", "--factors", ALL_FACTORS, f.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).isEqualTo(String.join("\n",
        f + ":5:23: unknown factor 'netwrk' (installed: hardware, key, network, otp-chain, posture)",
        f + ":6:25: token_lifetime 10m is out of bounds (1s to 5m)",
        f + ":8:17: audience 'payments' requires unknown level 'strong' (levels of class 'web': baseline)",
        f + ":10:23: unknown response 'shrug' for factor_failure (expected: deny, step-up)",
        "4 errors", ""));
  }

  /** An authority directory with a config, a database holding one machine, and optionally a policy. */
  private Path authority(Path policy, String machineClass, String status) throws Exception {
    Path a = Files.createDirectories(dir.resolve("authority"));
    AuthorityConfig c = AuthorityConfig.defaults();
    (policy == null ? c : c.withPolicyPath(policy)).write(a.resolve("authority.conf"));
    try (JdbcStore store = JdbcStore.openSqlite(a.resolve("m2mfa.db"))) {
      long now = System.currentTimeMillis();
      store.machines().insert(new MachineRecord("web-1", "spiffe://m2mfa.local/machine/web-1", machineClass, "unused", "unused", "",
          status, now, now));
    }
    return a;
  }

  @Test
  void explainReadsTheMachinesClassAndTheAuthoritysPolicy() throws Exception {
    Path a = authority(Path.of("../examples/policy.yaml").toAbsolutePath(), "web", MachineRecord.ACTIVE);
    Run r = run("policy", "explain", "web-1", "--audience", "payments", "--dir", a.toString(), "--factors", ALL_FACTORS);
    assertThat(r.err()).isEmpty();
    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains("machine web-1: class web, status active; policy ");
    assertThat(r.out()).contains("needs level strong (acr m2mfa:strong): audience 'payments' requires strong\n");
    assertThat(r.out()).contains("factors challenged at login: key, network, otp-chain, hardware\n");
    assertThat(r.out()).contains("on clone: lock; on factor failure: step-up; on anomaly: alert\n");

    Run any = run("policy", "explain", "web-1", "--dir", a.toString(), "--factors", ALL_FACTORS);
    assertThat(any.out()).contains("needs level baseline (acr m2mfa:baseline)");
    assertThat(any.out()).contains("audience rules of class web: * -> baseline, ledger -> hardware, payments -> strong (use --audience to see one)");
  }

  @Test
  void explainWithLegacyClassLines() throws Exception {
    Path a = authority(null, "default", MachineRecord.REVOKED);
    Run r = run("policy", "explain", "web-1", "--audience", "inventory", "--dir", a.toString());
    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains("machine web-1: class default, status revoked; class lines of ");
    assertThat(r.out()).contains("status revoked: every login is refused until an admin reinstates it\n");
    assertThat(r.out()).contains("needs level 3fa (acr m2mfa:3fa)"); // the default class: key, network, otp-chain
    assertThat(r.out()).contains("factors challenged at login: key, network, otp-chain\n");
  }

  @Test
  void explainRefusesWhatItCannotExplain() throws Exception {
    Path a = authority(Path.of("../examples/policy.yaml").toAbsolutePath(), "web", MachineRecord.ACTIVE);
    Run unknown = run("policy", "explain", "ghost", "--dir", a.toString(), "--factors", ALL_FACTORS);
    assertThat(unknown.exit()).isEqualTo(1);
    assertThat(unknown.err()).isEqualTo("m2mfa: no machine named ghost in " + a.resolve("m2mfa.db") + "\n");
    Run noAuthority = run("policy", "explain", "web-1", "--dir", dir.resolve("nowhere").toString());
    assertThat(noAuthority.exit()).isEqualTo(3);
    Run badPolicy = run("policy", "explain", "web-1", "--dir", a.toString(), "--factors", "key,network");
    assertThat(badPolicy.exit()).isEqualTo(1);
    assertThat(badPolicy.err()).contains("unknown factor 'otp-chain'");
  }
}
