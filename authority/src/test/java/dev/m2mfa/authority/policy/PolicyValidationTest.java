package dev.m2mfa.authority.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every validation error, with its exact message and position ({@code file:line:col:}).
 * Each case starts from a valid policy and breaks one thing, so the message under test is the
 * only one reported.
 */
class PolicyValidationTest {
  static final Set<String> INSTALLED = Set.of("key", "network", "otp-chain", "hardware", "posture");

  @TempDir Path dir;

  /** The errors for one file named p.yaml, each as "p.yaml:line:col: message". */
  private List<String> errors(String yaml) throws Exception {
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, yaml);
    return errorsOf(List.of(f));
  }

  private List<String> errorsOf(List<Path> paths) {
    try {
      Policy.load(paths, INSTALLED);
    } catch (PolicyException e) {
      return e.errors().stream().map(x -> x.toString().replace(dir + "/", "")).toList();
    }
    throw new AssertionError("policy loaded but was expected to fail");
  }

  private static final String VALID = """
      version: 1
      classes:
        web:
          levels:
            - name: baseline
              all_of: [key, network]
            - name: strong
              any_of: {k: 1, of: [otp-chain, hardware]}
          audiences:
            payments: strong
      """;

  @Test
  void theValidBaseLoads() throws Exception {
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, VALID);
    assertThat(Policy.load(List.of(f), INSTALLED).acrOrder()).containsExactly("m2mfa:baseline", "m2mfa:strong");
  }

  @Test
  void unknownTopLevelKey() throws Exception {
    assertThat(errors(VALID + "claases: {}\n"))
        .containsExactly("p.yaml:11:1: unknown top-level key 'claases' (expected: version, classes)");
  }

  @Test
  void unknownFactorListsTheInstalledOnes() throws Exception {
    assertThat(errors(VALID.replace("[key, network]", "[key, netwrk]")))
        .containsExactly("p.yaml:6:23: unknown factor 'netwrk' (installed: hardware, key, network, otp-chain, posture)");
  }

  @ParameterizedTest
  @CsvSource({"3, 'p.yaml:8:21: k is 3 but must be between 1 and 2 (the number of factors in ''of'')'",
      "0, 'p.yaml:8:21: k is 0 but must be between 1 and 2 (the number of factors in ''of'')'",
      "-1, 'p.yaml:8:21: k is -1 but must be between 1 and 2 (the number of factors in ''of'')'"})
  void kOutsideTheGroup(String k, String expected) throws Exception {
    assertThat(errors(VALID.replace("k: 1", "k: " + k))).containsExactly(expected);
  }

  @Test
  void kMustBeAWholeNumber() throws Exception {
    assertThat(errors(VALID.replace("k: 1", "k: one"))).containsExactly("p.yaml:8:21: k must be a whole number, got 'one'");
  }

  @Test
  void emptyGroups() throws Exception {
    assertThat(errors(VALID.replace("[key, network]", "[key]\n        any_of: {k: 1, of: []}")))
        .containsExactly("p.yaml:7:28: any_of 'of' is empty");
    assertThat(errors(VALID.replace("any_of: {k: 1, of: [otp-chain, hardware]}", "all_of: []")))
        .containsExactly("p.yaml:8:17: all_of is empty");
  }

  @Test
  void duplicateLevelName() throws Exception {
    assertThat(errors(VALID.replace("name: strong", "name: baseline").replace("payments: strong", "payments: baseline")))
        .containsExactly("p.yaml:7:15: duplicate level 'baseline' in class 'web' (first at line 5)");
  }

  @Test
  void duplicateClassAcrossFiles() throws Exception {
    Path policyDir = Files.createDirectories(dir.resolve("policy.d"));
    Files.writeString(policyDir.resolve("10-web.yaml"), VALID);
    Files.writeString(policyDir.resolve("20-more.yaml"), VALID.replace("web:", "batch:") + "  web:\n    levels:\n      - {name: baseline, all_of: [key]}\n");
    assertThat(errorsOf(List.of(policyDir)))
        .containsExactly("policy.d/20-more.yaml:11:3: class 'web' is already defined at policy.d/10-web.yaml:3");
  }

  @Test
  void duplicateClassInOneFileIsADuplicateKey() throws Exception {
    assertThat(errors(VALID + "  web:\n    levels:\n      - {name: baseline, all_of: [key]}\n"))
        .containsExactly("p.yaml:11:3: key 'web' is given twice in this mapping (first at line 3)");
  }

  @Test
  void audienceAtUnknownLevel() throws Exception {
    assertThat(errors(VALID.replace("payments: strong", "payments: strongest")))
        .containsExactly("p.yaml:10:17: audience 'payments' requires unknown level 'strongest' (levels of class 'web': baseline, strong)");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "token_lifetime: 10m       | p.yaml:9:25: token_lifetime 10m is out of bounds (1s to 5m)",
      "token_lifetime: 301s      | p.yaml:9:25: token_lifetime 301s is out of bounds (1s to 5m)",
      "token_lifetime: 0s        | p.yaml:9:25: token_lifetime 0s is out of bounds (1s to 5m)",
      "certificate_lifetime: 25h | p.yaml:9:31: certificate_lifetime 25h is out of bounds (1m to 24h)",
      "certificate_lifetime: 59s | p.yaml:9:31: certificate_lifetime 59s is out of bounds (1m to 24h)",
      "token_lifetime: 5 min     | p.yaml:9:25: token_lifetime '5 min' is not a duration (write e.g. 90s, 5m, 1h)",
      "token_lifetime: 90        | p.yaml:9:25: token_lifetime '90' is not a duration (write e.g. 90s, 5m, 1h)",
      "certificate_lifetime: 1d  | p.yaml:9:31: certificate_lifetime '1d' is not a duration (write e.g. 90s, 5m, 1h)"})
  void lifetimes(String line, String expected) throws Exception {
    assertThat(errors(VALID.replace("of: [otp-chain, hardware]}", "of: [otp-chain, hardware]}\n        " + line.strip())))
        .containsExactly(expected.strip());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "factor_failure: quarantine | p.yaml:12:23: unknown response 'quarantine' for factor_failure (expected: deny, step-up)",
      "clone: alert               | p.yaml:12:14: unknown response 'alert' for clone (expected: lock)",
      "anomaly: deny              | p.yaml:12:16: unknown response 'deny' for anomaly (expected: alert, step-up, quarantine)",
      "posture_mismatch: step-up  | p.yaml:12:25: unknown response 'step-up' for posture_mismatch (expected: deny, step-down, alert)",
      "clown: lock                | p.yaml:12:7: unknown event 'clown' in on (expected: clone, factor_failure, anomaly, posture_mismatch)"})
  void responses(String line, String expected) throws Exception {
    assertThat(errors(VALID + "    on:\n      " + line.strip() + "\n")).containsExactly(expected.strip());
  }

  @Test
  void levelThatRequiresNothing() throws Exception {
    assertThat(errors(VALID.replace("        any_of: {k: 1, of: [otp-chain, hardware]}\n", "        token_lifetime: 1m\n")))
        .containsExactly("p.yaml:7:9: level 'strong' requires nothing (give it all_of and/or any_of)");
  }

  @Test
  void yamlSyntaxErrors() throws Exception {
    assertThat(errors(VALID.replace("[key, network]", "[key, network")))
        .containsExactly("p.yaml:7:13: YAML syntax error: expected ',' or ']', but got :");
    assertThat(errors("classes:\n  web: x\n    levels: []\n"))
        .containsExactly("p.yaml:3:11: YAML syntax error: mapping values are not allowed here");
  }

  @Test
  void fileTooLarge() throws Exception {
    String big = VALID + "#" + "x".repeat(PolicyLoader.MAX_FILE_BYTES) + "\n";
    assertThat(errors(big)).containsExactly("p.yaml:1:1: file is larger than 262144 bytes (256 KiB)");
  }

  @Test
  void noClassesAtAll() throws Exception {
    assertThat(errors("version: 1\n")).containsExactly("p.yaml:1:1: no classes defined (expected a 'classes' mapping with at least one class)");
    assertThat(errors("version: 1\nclasses: {}\n"))
        .containsExactly("p.yaml:2:1: no classes defined (expected a 'classes' mapping with at least one class)");
    assertThat(errors("")).containsExactly("p.yaml:1:1: the file is empty");
    Path empty = Files.createDirectories(dir.resolve("empty.d"));
    assertThat(errorsOf(List.of(empty))).containsExactly("empty.d:1:1: no policy files (*.yaml, *.yml) in this directory");
    assertThat(errorsOf(List.of(dir.resolve("missing.yaml")))).containsExactly("missing.yaml:1:1: no such file or directory");
  }

  @Test
  void lowestLevelMustRequireKey() throws Exception {
    assertThat(errors(VALID.replace("[key, network]", "[network]")))
        .containsExactly("p.yaml:5:9: the lowest level 'baseline' must require key in all_of: the key factor checks the login signature");
  }

  @Test
  void unknownKeysInsideAClassOrLevel() throws Exception {
    assertThat(errors(VALID.replace("all_of: [key, network]", "all_of: [key, network]\n        al_of: [posture]")))
        .containsExactly("p.yaml:7:9: unknown key 'al_of' in level (expected: name, all_of, any_of, token_lifetime, certificate_lifetime)");
    assertThat(errors(VALID + "    audience:\n      x: strong\n"))
        .containsExactly("p.yaml:11:5: unknown key 'audience' in class 'web' (expected: levels, audiences, on, ssh)");
  }

  @Test
  void acrValuesNeedOneOrderAcrossClasses() throws Exception {
    String other = "  batch:\n    levels:\n      - {name: strong, all_of: [key]}\n      - {name: baseline, all_of: [posture]}\n";
    assertThat(errors(VALID + other)).containsExactly("p.yaml:11:3: class 'batch' puts m2mfa:strong below m2mfa:baseline, but an earlier class"
        + " orders them the other way round (acr values need one order across all classes)");
  }

  @Test
  void levelNamesCannotImitateLegacyAcrValues() throws Exception {
    assertThat(errors(VALID.replace("name: strong", "name: 2fa").replace("payments: strong", "payments: baseline")))
        .containsExactly("p.yaml:7:15: level name '2fa' must start with a lowercase letter and use only a-z, 0-9, '_', '-' (at most 32 characters)");
  }

  @Test
  void aliasesAreRefusedNotReadAsText() throws Exception {
    String yaml = VALID.replace("all_of: [key, network]", "all_of: &base [key, network]");
    List<String> result;
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, yaml + "  batch:\n    levels:\n      - {name: baseline, all_of: *base}\n");
    try {
      Policy p = Policy.load(List.of(f), INSTALLED);
      result = List.of("loaded " + p.factorsToChallenge("batch", "x", java.util.Optional.empty()));
    } catch (PolicyException e) {
      result = e.errors().stream().map(x -> x.toString().replace(dir + "/", "")).toList();
    }
    assertThat(result).containsExactly("p.yaml:13:34: YAML aliases (*base) are not supported: write the value out");
  }

  @Test
  void acrValuesThatNothingOrdersAreRefused() throws Exception {
    String other = "  iot:\n    levels:\n      - {name: device, all_of: [key]}\n";
    assertThat(errors(VALID + other)).containsExactly("p.yaml:11:3: class 'iot': m2mfa:device has no order against m2mfa:baseline"
        + " of class 'web' (acr values need one order across all classes: let the classes share level names, e.g. all start at the same"
        + " lowest level)");
    // sharing only the lowest level is not enough: device and strong are both just above baseline
    String shared = "  iot:\n    levels:\n      - {name: baseline, all_of: [key]}\n      - {name: device, all_of: [hardware]}\n";
    assertThat(errors(VALID + shared)).containsExactly("p.yaml:11:3: class 'iot': m2mfa:device has no order against m2mfa:strong"
        + " of class 'web' (acr values need one order across all classes: let the classes share level names, e.g. all start at the same"
        + " lowest level)");
    String chained = "  iot:\n    levels:\n      - {name: baseline, all_of: [key]}\n      - {name: strong, all_of: [posture]}\n"
        + "      - {name: device, all_of: [hardware]}\n";
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, VALID + chained);
    assertThat(Policy.load(List.of(f), INSTALLED).acrOrder()).containsExactly("m2mfa:baseline", "m2mfa:strong", "m2mfa:device");
  }

  @Test
  void oneDocumentPerFile() throws Exception {
    assertThat(errors(VALID + "---\nclasses: {}\n")).containsExactly("p.yaml:12:1: only one YAML document per file");
  }

  @Test
  void everyErrorIsReportedInPositionOrder() throws Exception {
    String yaml = VALID.replace("[key, network]", "[key, netwrk]").replace("k: 1", "k: 5").replace("payments: strong", "payments: gold")
        + "    on:\n      anomaly: shrug\n";
    assertThat(errors(yaml)).containsExactly(
        "p.yaml:6:23: unknown factor 'netwrk' (installed: hardware, key, network, otp-chain, posture)",
        "p.yaml:8:21: k is 5 but must be between 1 and 2 (the number of factors in 'of')",
        "p.yaml:10:17: audience 'payments' requires unknown level 'gold' (levels of class 'web': baseline, strong)",
        "p.yaml:12:16: unknown response 'shrug' for anomaly (expected: alert, step-up, quarantine)");
  }

  @Test
  void theExceptionMessageIsTheFirstError() throws Exception {
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, VALID.replace("payments: strong", "payments: gold"));
    assertThatThrownBy(() -> Policy.load(List.of(f), INSTALLED)).isInstanceOf(PolicyException.class)
        .hasMessage(f + ":10:17: audience 'payments' requires unknown level 'gold' (levels of class 'web': baseline, strong)");
  }

  @Test
  void theExamplePolicyLoads() throws Exception {
    Policy p = Policy.load(List.of(Path.of("../examples/policy.yaml")), INSTALLED);
    assertThat(p.classNames()).containsExactly("web", "batch");
    assertThat(p.acrOrder()).containsExactly("m2mfa:baseline", "m2mfa:strong", "m2mfa:hardware");
    assertThat(p.machineClass("web").orElseThrow().ssh()).isEmpty();
    SshGrant batch = p.machineClass("batch").orElseThrow().ssh().orElseThrow();
    assertThat(batch.principalsFor("runner-3")).containsExactly("deploy", "runner-3");
    assertThat(batch.userCertificateLifetime()).isEqualTo(java.time.Duration.ofMinutes(5));
    assertThat(batch.hostCertificateLifetime()).isEqualTo(java.time.Duration.ofDays(7));
    assertThat(batch.forceCommand()).contains("/usr/local/bin/run-batch");
    assertThat(batch.minLevel()).contains("strong");
    // the example keeps what it says: the login for SSH already needs min_level
    assertThat(p.neededLevel("batch", "m2mfa:ssh", java.util.Optional.empty()).name()).isEqualTo("strong");
  }

  // ---------------------------------------------------------------- the ssh block

  private static final String SSH_KEYS = "principals, user_certificate_lifetime, host_certificate_lifetime, force_command, min_level";

  private Policy loads(String yaml) throws Exception {
    Path f = dir.resolve("ok.yaml");
    Files.writeString(f, yaml);
    return Policy.load(List.of(f), INSTALLED);
  }

  /** VALID with an ssh block whose body lines follow (each indented under "ssh:", starting at line 12). */
  private static String withSsh(String... body) {
    StringBuilder b = new StringBuilder(VALID).append("    ssh:\n");
    for (String line : body) b.append("      ").append(line).append('\n');
    return b.toString();
  }

  @Test
  void aFullSshBlockLoadsAndIsOnTheClass() throws Exception {
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, withSsh("principals: [deploy, \"{machine}\", \"1001\", build@ci]", "user_certificate_lifetime: 5m",
        "host_certificate_lifetime: 30d", "force_command: \"/usr/local/bin/ship --env prod\"", "min_level: strong"));
    Policy policy = Policy.load(List.of(f), INSTALLED);
    SshGrant ssh = policy.machineClass("web").orElseThrow().ssh().orElseThrow();
    // valid, but explain warns: nothing raises the login for m2mfa:ssh to strong
    assertThat(policy.explain("web", "m2mfa:ssh")).contains("ssh certificates: principals deploy, {machine}, 1001, build@ci; user 5m,"
        + " host 720h; force-command /usr/local/bin/ship --env prod; user certificates need at least strong (m2mfa:strong) -- but"
        + " audience m2mfa:ssh needs only baseline, so the agent's login for SSH will not reach strong (add \"m2mfa:ssh\": strong to"
        + " audiences)\n");
    assertThat(ssh.principals()).containsExactly("deploy", "{machine}", "1001", "build@ci");
    assertThat(ssh.principalsFor("web-1")).containsExactly("deploy", "web-1", "1001", "build@ci");
    assertThat(ssh.userCertificateLifetime()).isEqualTo(java.time.Duration.ofMinutes(5));
    assertThat(ssh.hostCertificateLifetime()).isEqualTo(java.time.Duration.ofDays(30));
    assertThat(ssh.forceCommand()).contains("/usr/local/bin/ship --env prod");
    assertThat(ssh.minLevel()).contains("strong");
  }

  @Test
  void anEmptySshBlockMeansTheDefaultsAndNoBlockMeansNone() throws Exception {
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, VALID + "    ssh: {}\n");
    assertThat(Policy.load(List.of(f), INSTALLED).machineClass("web").orElseThrow().ssh()).contains(SshGrant.defaults());
    assertThat(SshGrant.defaults().principals()).containsExactly("{machine}");
    assertThat(SshGrant.defaults().userCertificateLifetime()).isEqualTo(java.time.Duration.ofMinutes(10));
    Files.writeString(f, VALID);
    assertThat(Policy.load(List.of(f), INSTALLED).machineClass("web").orElseThrow().ssh()).isEmpty();
    assertThat(Policy.fromLegacyClasses(java.util.Map.of("default", List.of("key"))).machineClass("default").orElseThrow().ssh()).isEmpty();
  }

  @Test
  void sshMustBeAMapping() throws Exception {
    assertThat(errors(VALID + "    ssh: [deploy]\n"))
        .containsExactly("p.yaml:11:10: 'ssh' of class 'web' must be a mapping (keys: " + SSH_KEYS + ")");
  }

  @Test
  void unknownKeyInSsh() throws Exception {
    assertThat(errors(withSsh("principles: [deploy]")))
        .containsExactly("p.yaml:12:7: unknown key 'principles' in ssh (expected: " + SSH_KEYS + ")");
  }

  @Test
  void principalsMustBeANonEmptyList() throws Exception {
    String message = "ssh principals must be a non-empty list of names (\"{machine}\" is the machine's name)";
    assertThat(errors(withSsh("principals: []"))).containsExactly("p.yaml:12:19: " + message);
    assertThat(errors(withSsh("principals: deploy"))).containsExactly("p.yaml:12:19: " + message);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "'\"bad name\"'   | p.yaml:12:20: principal 'bad name' must be 1-64 printable ASCII characters without spaces or commas",
      "'\"a,b\"'        | p.yaml:12:20: principal 'a,b' must be 1-64 printable ASCII characters without spaces or commas",
      "'\"tab\\there\"' | p.yaml:12:20: principal 'tab\\x09here' must be 1-64 printable ASCII characters without spaces or commas",
      "'\"\"'           | p.yaml:12:20: principal '' must be 1-64 printable ASCII characters without spaces or commas",
      "'\"caf\u00e9\"'  | p.yaml:12:20: principal 'caf\u00e9' must be 1-64 printable ASCII characters without spaces or commas",
      "'\"{host}\"'     | p.yaml:12:20: principal '{host}' has an unknown placeholder (the only one is {machine})",
      "'\"{machine\"'   | p.yaml:12:20: principal '{machine' has an unknown placeholder (the only one is {machine})"})
  void principalSyntax(String principal, String expected) throws Exception {
    assertThat(errors(withSsh("principals: [" + principal + "]"))).containsExactly(expected);
  }

  @Test
  void aPrincipalIsAtMost64Characters() throws Exception {
    String p64 = "p".repeat(64);
    Path f = dir.resolve("p.yaml");
    Files.writeString(f, withSsh("principals: [" + p64 + "]"));
    assertThat(Policy.load(List.of(f), INSTALLED).machineClass("web").orElseThrow().ssh().orElseThrow().principals()).containsExactly(p64);
    assertThat(errors(withSsh("principals: [" + p64 + "q]"))).containsExactly("p.yaml:12:20: principal '" + "p".repeat(40)
        + "...' must be 1-64 printable ASCII characters without spaces or commas");
  }

  @Test
  void atMost32Principals() throws Exception {
    List<String> names = new java.util.ArrayList<>();
    for (int i = 0; i < 33; i++) names.add("u" + i);
    assertThat(loads(withSsh("principals: [" + String.join(", ", names.subList(0, 32)) + "]")).machineClass("web").orElseThrow().ssh()
        .orElseThrow().principals()).hasSize(32);
    // the 33rd name is where the list went too far: u0..u9 take 4 columns each, u10..u31 5
    int column = 20 + 10 * 4 + 22 * 5;
    assertThat(errors(withSsh("principals: [" + String.join(", ", names) + "]")))
        .containsExactly("p.yaml:12:" + column + ": ssh principals list 33 names; at most 32 are allowed");
  }

  @Test
  void aPrincipalListedTwice() throws Exception {
    assertThat(errors(withSsh("principals: [deploy, \"{machine}\", deploy]")))
        .containsExactly("p.yaml:12:41: principal 'deploy' is listed twice");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "user_certificate_lifetime: 10 minutes | p.yaml:12:34: user_certificate_lifetime '10 minutes' is not a duration (write e.g. 90s, 10m, 8h, 7d)",
      "user_certificate_lifetime: 600        | p.yaml:12:34: user_certificate_lifetime '600' is not a duration (write e.g. 90s, 10m, 8h, 7d)",
      "user_certificate_lifetime: 59s        | p.yaml:12:34: user_certificate_lifetime 59s is out of bounds (1m to 24h)",
      "user_certificate_lifetime: 2d         | p.yaml:12:34: user_certificate_lifetime 2d is out of bounds (1m to 24h)",
      "host_certificate_lifetime: 4m         | p.yaml:12:34: host_certificate_lifetime 4m is out of bounds (5m to 30d)",
      "host_certificate_lifetime: 31d        | p.yaml:12:34: host_certificate_lifetime 31d is out of bounds (5m to 30d)",
      "host_certificate_lifetime: [1d]       | p.yaml:12:34: host_certificate_lifetime a list is not a duration (write e.g. 90s, 10m, 8h, 7d)"})
  void sshLifetimes(String line, String expected) throws Exception {
    assertThat(errors(withSsh(line))).containsExactly(expected);
  }

  @Test
  void sshLifetimeBoundsAreInclusive() throws Exception {
    SshGrant low = loads(withSsh("user_certificate_lifetime: 1m", "host_certificate_lifetime: 5m")).machineClass("web").orElseThrow()
        .ssh().orElseThrow();
    assertThat(low.userCertificateLifetime()).isEqualTo(SshGrant.MIN_USER_LIFETIME);
    assertThat(low.hostCertificateLifetime()).isEqualTo(SshGrant.MIN_HOST_LIFETIME);
    SshGrant high = loads(withSsh("user_certificate_lifetime: 24h", "host_certificate_lifetime: 720h")).machineClass("web").orElseThrow()
        .ssh().orElseThrow();
    assertThat(high.userCertificateLifetime()).isEqualTo(SshGrant.MAX_USER_LIFETIME);
    assertThat(high.hostCertificateLifetime()).isEqualTo(SshGrant.MAX_HOST_LIFETIME);
  }

  @Test
  void forceCommand() throws Exception {
    String message = "force_command must be 1-1024 characters without control characters";
    assertThat(errors(withSsh("force_command: \"rm\\n-rf\""))).containsExactly("p.yaml:12:22: " + message);
    assertThat(errors(withSsh("force_command: \" \""))).containsExactly("p.yaml:12:22: " + message);
    assertThat(errors(withSsh("force_command: " + "x".repeat(1025)))).containsExactly("p.yaml:12:22: " + message);
    assertThat(errors(withSsh("force_command: [a, b]"))).containsExactly("p.yaml:12:22: force_command must be a command line, got a list");
  }

  @Test
  void minLevelMustBeALevelOfTheClass() throws Exception {
    assertThat(errors(withSsh("min_level: gold")))
        .containsExactly("p.yaml:12:18: ssh min_level 'gold' is not a level of class 'web' (levels: baseline, strong)");
    assertThat(errors(withSsh("min_level: {name: strong}"))).containsExactly("p.yaml:12:18: ssh min_level must name a level, got a mapping");
  }

  @Test
  void sshErrorsAreReportedWithTheOthers() throws Exception {
    assertThat(errors(withSsh("principals: [\"a b\"]", "user_certificate_lifetime: 0s", "min_level: gold"))).containsExactly(
        "p.yaml:12:20: principal 'a b' must be 1-64 printable ASCII characters without spaces or commas",
        "p.yaml:13:34: user_certificate_lifetime 0s is out of bounds (1m to 24h)",
        "p.yaml:14:18: ssh min_level 'gold' is not a level of class 'web' (levels: baseline, strong)");
  }
}
