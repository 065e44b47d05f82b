package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.m2mfa.agent.posture.FileCollector;
import dev.m2mfa.agent.posture.ScanProgress;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.api.posture.Measurement;
import dev.m2mfa.authority.factor.posture.Baseline;
import dev.m2mfa.authority.factor.posture.SignedBaseline;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.crypto.params.AsymmetricKeyParameter;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.util.PrivateKeyFactory;
import org.bouncycastle.crypto.util.SubjectPublicKeyInfoFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code m2mfa posture baseline create | sign | import | show}: golden manifests for the posture
 * factor. {@code create} hashes reference trees into a manifest (JSON on stdout), {@code sign}
 * signs one with an operator key (Ed25519 or P-256, PKCS#8 PEM), {@code import} checks the
 * signature under the operator's public key and hands the manifest to the authority (admin
 * API), {@code show} prints a stored baseline and says plainly when it was learned on first use.
 */
@Command(name = "posture", mixinStandardHelpOptions = true, description = "Posture factor tools.",
    subcommands = {PostureCommand.BaselineCommand.class})
public final class PostureCommand {
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final int MAX_INPUT = 32 * 1024 * 1024;

  @Command(name = "baseline", mixinStandardHelpOptions = true, description = "Golden manifests: create, sign, import, show.",
      subcommands = {Create.class, Sign.class, Import.class, Show.class},
      footer = {"", "Example:", "  m2mfa posture baseline create --root /usr/sbin --root /etc/ssh --forbid-package nmap --allow-listener tcp/22 \\",
          "    | m2mfa posture baseline sign --key operator.pem \\",
          "    | m2mfa posture baseline import --dir /var/lib/m2mfa --class web --operator-key operator.pub.pem"})
  static final class BaselineCommand {}

  @Command(name = "create", mixinStandardHelpOptions = true, description = "Hash reference trees into an unsigned manifest (JSON on stdout).")
  static final class Create implements Callable<Integer> {
    @Option(names = "--root", required = true, description = "Directory whose files must match (repeatable).") List<Path> roots;
    @Option(names = "--glob", description = "Only files whose absolute path matches (repeatable).") List<String> globs = new ArrayList<>();
    @Option(names = "--require-package", description = "NAME or NAME=VERSION (repeatable).") List<String> required = new ArrayList<>();
    @Option(names = "--forbid-package", description = "NAME or NAME=VERSION (repeatable).") List<String> forbidden = new ArrayList<>();
    @Option(names = "--allow-process", description = "PATH or PATH=SHA256 (repeatable); when given, any other running executable is a finding.")
    List<String> processes = new ArrayList<>();
    @Option(names = "--allow-listener", description = "proto/port or proto/addr:port (repeatable); when given, any other listener is a finding.")
    List<String> listeners = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
      List<Path> abs = roots.stream().map(p -> p.toAbsolutePath().normalize()).toList();
      FileCollector.Result r = new FileCollector().scan(abs, globs, null, ScanProgress.auto("hashing"));
      Map<String, String> files = new TreeMap<>();
      for (Measurement m : r.measurements()) files.put(m.key(), m.value());
      Baseline b = new Baseline(1, Baseline.MANIFEST, System.currentTimeMillis(), abs.stream().map(Path::toString).toList(), files,
          pairs(required, "*"), pairs(forbidden, "*"), null, processes.isEmpty() ? null : pairs(processes, "*"),
          listeners.isEmpty() ? null : listeners, null);
      System.out.write(b.toJson());
      System.out.println();
      System.out.flush();
      System.err.printf("manifest: %d files under %s%n", files.size(), abs);
      return 0;
    }
  }

  @Command(name = "sign", mixinStandardHelpOptions = true, description = "Sign a manifest (stdin or --in) with an operator key; the signed manifest goes to stdout.")
  static final class Sign implements Callable<Integer> {
    @Option(names = "--key", required = true, description = "Operator private key, PKCS#8 PEM (openssl genpkey -algorithm ed25519).") Path key;
    @Option(names = "--in", description = "Manifest file (default: stdin).") Path in;

    @Override
    public Integer call() throws Exception {
      byte[] manifest = read(in);
      PrivateKey priv = dev.m2mfa.api.pki.KeyFiles.readPlain(key);
      PublicKey pub = publicOf(Files.readString(key));
      System.out.write(SignedBaseline.sign(manifest, priv, pub));
      System.out.println();
      System.out.flush();
      System.err.println("signed by operator key " + SignedBaseline.fingerprint(pub));
      return 0;
    }
  }

  @Command(name = "import", mixinStandardHelpOptions = true, description = "Verify a signed manifest under the operator key and store it as a class or machine baseline.")
  static final class Import implements Callable<Integer> {
    @CommandLine.Mixin Main.AdminCommand.Target target;
    @Option(names = "--operator-key", required = true, description = "The operator's public key (PEM) the manifest must be signed by.") Path operatorKey;
    @Option(names = "--class", description = "Machine class the baseline is for.") String cls;
    @Option(names = "--machine", description = "Machine the baseline is for (takes precedence over its class).") String machine;
    @Option(names = "--in", description = "Signed manifest file (default: stdin).") Path in;

    @Override
    public Integer call() throws Exception {
      if ((cls == null) == (machine == null)) throw new CommandLine.ParameterException(new CommandLine(this), "give exactly one of --class or --machine");
      byte[] envelope = read(in);
      PublicKey trusted = Pem.publicKey(Files.readString(operatorKey));
      trusted = SignedBaseline.publicKey(trusted.getEncoded());
      SignedBaseline.Verified v;
      try {
        v = SignedBaseline.verify(envelope, trusted);
      } catch (IllegalArgumentException e) {
        System.err.println("refused: " + e.getMessage());
        return 1;
      }
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("scope", cls != null ? "class" : "machine");
      body.put("name", cls != null ? cls : machine);
      body.put("operator_key", Base64.getUrlEncoder().withoutPadding().encodeToString(trusted.getEncoded()));
      body.put("envelope", Base64.getUrlEncoder().withoutPadding().encodeToString(dev.m2mfa.api.posture.MeasurementList.deflate(envelope)));
      try (AdminClient c = target.client()) {
        JsonNode out = c.post("/v1/admin/posture/baselines", body);
        System.out.println(out.toPrettyString());
      }
      System.err.println("imported manifest signed by " + v.signerFingerprint());
      return 0;
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "Print a stored baseline's summary; says when it was learned on first use (TOFU).")
  static final class Show implements Callable<Integer> {
    @CommandLine.Mixin Main.AdminCommand.Target target;
    @Option(names = "--class") String cls;
    @Option(names = "--machine") String machine;

    @Override
    public Integer call() throws Exception {
      if ((cls == null) == (machine == null)) throw new CommandLine.ParameterException(new CommandLine(this), "give exactly one of --class or --machine");
      try (AdminClient c = target.client()) {
        JsonNode out = c.get("/v1/admin/posture/baselines/" + (cls != null ? "class/" + cls : "machine/" + machine));
        System.out.println(out.toPrettyString());
        if (out.path("trust_on_first_use").asBoolean()) {
          System.err.println("NOTE: this baseline was learned on first use (TOFU): whatever ran on the machine at its first login was taken as good.");
        }
      }
      return 0;
    }
  }

  static Map<String, String> pairs(List<String> specs, String any) {
    if (specs.isEmpty()) return null;
    Map<String, String> m = new TreeMap<>();
    for (String s : specs) {
      int eq = s.indexOf('=');
      m.put(eq < 0 ? s : s.substring(0, eq), eq < 0 ? any : s.substring(eq + 1));
    }
    return m;
  }

  static byte[] read(Path in) throws IOException {
    try (InputStream s = in == null ? System.in : Files.newInputStream(in)) {
      byte[] b = s.readNBytes(MAX_INPUT + 1);
      if (b.length > MAX_INPUT) throw new IOException("input larger than " + MAX_INPUT + " bytes");
      return b;
    }
  }

  /** The public half of an Ed25519 or P-256 PKCS#8 key (BouncyCastle's lightweight API derives it). */
  static PublicKey publicOf(String pkcs8Pem) throws IOException {
    try (var p = new org.bouncycastle.openssl.PEMParser(new java.io.StringReader(pkcs8Pem))) {
      Object o = p.readObject();
      PrivateKeyInfo info = o instanceof PrivateKeyInfo i ? i
          : o instanceof org.bouncycastle.openssl.PEMKeyPair kp ? kp.getPrivateKeyInfo() : null;
      if (info == null) throw new IOException("not a PKCS#8 private key");
      AsymmetricKeyParameter k = PrivateKeyFactory.createKey(info);
      AsymmetricKeyParameter pub;
      if (k instanceof Ed25519PrivateKeyParameters ed) pub = ed.generatePublicKey();
      else if (k instanceof ECPrivateKeyParameters ec) pub = new ECPublicKeyParameters(ec.getParameters().getG().multiply(ec.getD()).normalize(), ec.getParameters());
      else throw new IOException("operator key must be Ed25519 or P-256");
      return SignedBaseline.publicKey(SubjectPublicKeyInfoFactory.createSubjectPublicKeyInfo(pub).getEncoded());
    }
  }
}
