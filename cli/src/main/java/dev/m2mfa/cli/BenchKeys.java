package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.keys.KeyConfig;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.agent.keys.tpm.TpmKeyProvider;
import dev.m2mfa.agent.keys.tpm.TpmProvider;
import dev.m2mfa.agent.keys.tpm.TpmTools;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Key providers for {@code m2mfa bench login --key-provider}: each bench machine enrolls with
 * its key in the named provider. {@code sealed} uses the production Argon2id parameters
 * (64 MiB, 3 passes) at enrollment; a login signs with the unlocked key in memory.
 * {@code pkcs11} needs SoftHSM2: SoftHSM reads {@code SOFTHSM2_CONF} once per process, so
 * without one the command re-runs itself in a child process whose environment points at a
 * fresh token in a temp directory (removed afterwards), or uses {@code M2MFA_BENCH_PKCS11_*}.
 * {@code tpm} enrolls each machine by credential activation with its login key in a swtpm the
 * run starts ({@link BenchTpm}); every signature is one {@code tpm2_sign} process.
 */
final class BenchKeys {
  static final String SOFTHSM_LIBRARY = "/usr/lib/softhsm/libsofthsm2.so";
  static final String ENV_SLOT = "M2MFA_BENCH_PKCS11_SLOT";
  static final String ENV_PIN_FILE = "M2MFA_BENCH_PKCS11_PIN_FILE";

  private BenchKeys() {}

  static void check(String provider) {
    if (!List.of("software", "sealed", "pkcs11", "tpm").contains(provider)) {
      throw new IllegalArgumentException("--key-provider must be software, sealed, pkcs11 or tpm");
    }
  }

  /** True when this process must re-run itself with a SoftHSM2 token prepared. */
  static boolean needsSoftHsmChild(String provider) {
    return provider.equals("pkcs11") && System.getenv(ENV_SLOT) == null;
  }

  /** Prepares a SoftHSM2 token in a temp directory and runs this same command in a child that sees it; returns its exit code. */
  static int runInSoftHsmChild() throws Exception {
    if (!Files.isExecutable(Path.of("/usr/bin/softhsm2-util")) || !Files.isRegularFile(Path.of(SOFTHSM_LIBRARY))) {
      throw new IOException("--key-provider pkcs11 needs SoftHSM2 (Debian package softhsm2)");
    }
    Path tmp = Files.createTempDirectory("m2mfa-bench-softhsm");
    try {
      Path tokens = Files.createDirectories(tmp.resolve("tokens"));
      Path conf = tmp.resolve("softhsm2.conf");
      Files.writeString(conf, "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n");
      Path pin = tmp.resolve("pin");
      Files.writeString(pin, "bench-" + Long.toHexString(System.nanoTime()));
      ProcessBuilder init = new ProcessBuilder("/usr/bin/softhsm2-util", "--init-token", "--free", "--label", "m2mfa-bench", "--so-pin",
          "so-" + Files.readString(pin), "--pin", Files.readString(pin)).redirectErrorStream(true);
      init.environment().put("SOFTHSM2_CONF", conf.toString());
      Process p = init.start();
      String out = new String(p.getInputStream().readAllBytes());
      Matcher m = Pattern.compile("reassigned to slot (\\d+)").matcher(out);
      if (p.waitFor() != 0 || !m.find()) throw new IOException("softhsm2-util --init-token failed: " + out.strip());
      ProcessHandle.Info info = ProcessHandle.current().info();
      List<String> cmd = new ArrayList<>();
      cmd.add(info.command().orElseThrow(() -> new IOException("cannot find this process's command line")));
      cmd.addAll(List.of(info.arguments().orElseThrow(() -> new IOException("cannot find this process's command line"))));
      ProcessBuilder child = new ProcessBuilder(cmd).inheritIO();
      child.environment().put("SOFTHSM2_CONF", conf.toString());
      child.environment().put(ENV_SLOT, m.group(1));
      child.environment().put(ENV_PIN_FILE, pin.toString());
      return child.start().waitFor();
    } finally {
      try (Stream<Path> s = Files.walk(tmp)) {
        s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  /**
   * The TPM of a {@code --key-provider tpm} run: a swtpm started in the run's temp directory,
   * or the TPM {@code M2MFA_BENCH_TPM_TCTI} names (e.g. {@code device:/dev/tpmrm0}). Machine i's
   * login key is persisted at {@code 0x81000202 + i}; {@link #close} evicts every key the run
   * made (a real TPM keeps nothing) and stops the swtpm. For other providers it does nothing.
   */
  static final class BenchTpm implements AutoCloseable {
    static final String ENV_TCTI = "M2MFA_BENCH_TPM_TCTI";
    final String tcti;
    private final SwtpmProcess swtpm;
    private final List<Path> keyDirs = new ArrayList<>();

    private BenchTpm(String tcti, SwtpmProcess swtpm) {
      this.tcti = tcti;
      this.swtpm = swtpm;
    }

    static BenchTpm forProvider(String provider, Path runDir) throws Exception {
      if (!provider.equals("tpm")) return new BenchTpm(null, null);
      String tcti = System.getenv(ENV_TCTI);
      if (tcti != null) return new BenchTpm(tcti, null);
      String missing = SwtpmProcess.missingTool();
      if (missing != null) throw new IOException("--key-provider tpm needs swtpm and tpm2-tools (" + missing + " is missing), or " + ENV_TCTI);
      SwtpmProcess s = SwtpmProcess.start(runDir.resolve("swtpm"));
      return new BenchTpm(s.tcti(), s);
    }

    KeyConfig keyConfig(int machine, Path keyDir) {
      keyDirs.add(keyDir);
      return TpmProvider.config(tcti, TpmKeyProvider.DEFAULT_HANDLE + 1 + machine);
    }

    @Override
    public void close() throws Exception {
      try {
        for (int i = 0; i < keyDirs.size(); i++) {
          try {
            TpmKeyProvider.destroy(TpmTools.shared(tcti), keyDirs.get(i), TpmKeyProvider.DEFAULT_HANDLE + 1 + i);
          } catch (IOException e) {
            System.err.println("bench: could not evict a bench key from the TPM: " + e.getMessage());
          }
        }
      } finally {
        if (swtpm != null) swtpm.close();
      }
    }
  }

  static Agent enroll(BenchSupport.TempAuthority ta, String name, String address, String provider, int machine, BenchTpm tpm) throws IOException {
    if (provider.equals("software")) return ta.enroll(name, address);
    JsonNode t = ta.admin.post("/v1/admin/join-tokens", Map.of("name", name, "cidrs", List.of(address + "/32"), "ttl_seconds", 600));
    if (provider.equals("tpm")) {
      Path keyDir = ta.dir.resolve("agents").resolve(name);
      return Agent.enroll(keyDir, "127.0.0.1", ta.authority.port(), ta.authority.ca().root(), t.path("join_token").asText(),
          tpm.keyConfig(machine, keyDir), KeyContext.Secrets.none(), InetAddress.ofLiteral(address));
    }
    Map<String, String> options = new LinkedHashMap<>();
    if (provider.equals("pkcs11")) {
      options.put("library", System.getenv().getOrDefault("M2MFA_BENCH_PKCS11_LIBRARY", SOFTHSM_LIBRARY));
      options.put("slot", System.getenv(ENV_SLOT));
      options.put("pin_file", System.getenv(ENV_PIN_FILE));
      options.put("key_label", name);
    }
    return Agent.enroll(ta.dir.resolve("agents").resolve(name), "127.0.0.1", ta.authority.port(), ta.authority.ca().root(),
        t.path("join_token").asText(), KeyConfig.of(provider, options), KeyContext.Secrets.fixed(ta.passphrase), InetAddress.ofLiteral(address));
  }
}
