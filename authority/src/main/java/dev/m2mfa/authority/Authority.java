package dev.m2mfa.authority;

import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.api.pki.TlsContexts;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.enroll.EnrollmentService;
import dev.m2mfa.authority.http.AuthorityServer;
import dev.m2mfa.authority.login.LoginService;
import dev.m2mfa.authority.pki.CertificateAuthority;
import dev.m2mfa.authority.revocation.RevocationHub;
import dev.m2mfa.authority.revocation.RevocationService;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.Store;
import dev.m2mfa.authority.token.SigningKeyring;
import dev.m2mfa.authority.token.TokenIssuer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * The authority process: opens its directory (config, CA, SQLite database), loads the factor
 * verifiers through {@link ServiceLoader}, checks that every factor a policy class names is
 * present, and serves HTTPS.
 *
 * <p>Directory layout: {@code authority.conf}, {@code ca/} (root and issuing certificates,
 * keys encrypted under the operator passphrase), {@code admin/} (the first admin's client
 * certificate and key, 0600), {@code m2mfa.db} (SQLite, WAL, synchronous=FULL).
 */
public final class Authority implements AutoCloseable {
  private final AuthorityConfig config;
  private final Store store;
  private final CertificateAuthority ca;
  private final AuditLog audit;
  private final SigningKeyring keyring;
  private final RevocationHub revocationHub;
  private final RevocationService revocations;
  private final dev.m2mfa.authority.factor.otpchain.OtpChainFactor otpChain;
  private final EnrollmentService enrollment;
  private final LoginService login;
  private final ScheduledExecutorService housekeeping;
  private final dev.m2mfa.authority.policy.PolicySource policies;
  private volatile dev.m2mfa.authority.enroll.tpm.TpmEnrollmentService tpmEnrollment;
  private dev.m2mfa.authority.ssh.SshService ssh;
  private AuthorityServer server;
  private volatile boolean running;

  private Authority(AuthorityConfig config, Store store, CertificateAuthority ca, char[] passphrase) {
    this.config = config;
    this.store = store;
    this.ca = ca;
    this.audit = new AuditLog(store);
    this.keyring = new SigningKeyring(store, passphrase, config.tokenLifetime());
    this.revocationHub = new RevocationHub(store);
    keyring.onRotation(revocationHub::keysChanged);
    this.revocations = new RevocationService(store, revocationHub, audit);
    Map<String, FactorVerifier> verifiers = bind(loadVerifiers(config), new dev.m2mfa.authority.factor.AuthorityBound.Services(store, audit, config, revocations));
    this.policies = policySource(config, verifiers.keySet(), audit);
    this.enrollment = new EnrollmentService(store, config, ca, audit, revocations, policies);
    this.otpChain = verifiers.get(dev.m2mfa.authority.factor.otpchain.OtpChainFactor.NAME) instanceof dev.m2mfa.authority.factor.otpchain.OtpChainFactor f ? f : null;
    this.login = new LoginService(store, config, verifiers, new TokenIssuer(keyring, config.issuer()), ca, audit, policies);
    login.revocationSeq(revocationHub::latestSeq);
    this.housekeeping = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("housekeeping").factory());
    housekeeping.scheduleAtFixedRate(keyring::reload, 1, 1, TimeUnit.MINUTES);
    long rotate = config.signingKeyRotation().toMinutes();
    housekeeping.scheduleAtFixedRate(keyring::rotate, rotate, rotate, TimeUnit.MINUTES);
  }

  /** Creates a new authority directory: config, CA, first admin credential, database, signing key. */
  public static void init(Path dir, AuthorityConfig config, char[] passphrase, String adminName) throws IOException {
    if (Files.exists(dir.resolve("authority.conf"))) throw new IOException("an authority already exists in " + dir);
    Files.createDirectories(dir);
    config.write(dir.resolve("authority.conf"));
    CertificateAuthority ca = CertificateAuthority.create(dir.resolve("ca"), config.trustDomain(), passphrase);
    KeyPair admin = KeyFiles.newP256();
    X509Certificate adminCert = ca.issueAdmin(adminName, admin.getPublic(), Duration.ofDays(365));
    Path adminDir = dir.resolve("admin");
    Files.createDirectories(adminDir);
    KeyFiles.writePrivate(adminDir.resolve("admin.pem"), Pem.encodeChain(ca.chainFor(adminCert)));
    KeyFiles.writePlain(adminDir.resolve("admin.key"), admin.getPrivate());
    Files.writeString(dir.resolve("ca").resolve("ca.pem"), Pem.encode(ca.root()));
    dev.m2mfa.authority.ssh.SshService.createCa(dir, passphrase);
    try (Store store = JdbcStore.openSqlite(dir.resolve("m2mfa.db"))) {
      new SigningKeyring(store, passphrase, config.tokenLifetime());
      try (AuditLog log = new AuditLog(store)) {
        log.appendAndWait("authority.init", "", Map.of("trust_domain", config.trustDomain(), "admin", adminName));
      }
    }
  }

  /** Opens an existing directory; {@code overrides} may change listen address or timings. */
  public static Authority open(Path dir, char[] passphrase, java.util.function.UnaryOperator<AuthorityConfig> overrides) throws IOException {
    AuthorityConfig config = overrides.apply(AuthorityConfig.load(dir.resolve("authority.conf")));
    // the CA key's PBKDF2 and the database migration check each take a good part of a
    // second: run them side by side (start-up time is a goal)
    java.util.concurrent.CompletableFuture<CertificateAuthority> caFuture = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        return CertificateAuthority.open(dir.resolve("ca"), config.trustDomain(), passphrase);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }, r -> Thread.ofPlatform().name("open-ca").start(r));
    var sshCaFuture = dev.m2mfa.authority.ssh.SshService.openCaAsync(dir, passphrase);
    Store store = JdbcStore.openSqlite(dir.resolve("m2mfa.db"));
    CertificateAuthority ca;
    try {
      ca = caFuture.join();
    } catch (java.util.concurrent.CompletionException e) {
      store.close();
      if (e.getCause() instanceof java.io.UncheckedIOException u) throw u.getCause();
      throw e;
    }
    Authority a;
    try {
      var tpmSettings = dev.m2mfa.authority.enroll.tpm.TpmEnrollmentSettings.load(dir);
      a = new Authority(config, store, ca, passphrase);
      a.tpmEnrollment = new dev.m2mfa.authority.enroll.tpm.TpmEnrollmentService(store, a.enrollment, a.audit, tpmSettings);
    } catch (RuntimeException | IOException e) {
      store.close();
      throw e;
    }
    try {
      a.ssh = dev.m2mfa.authority.ssh.SshService.open(dir, sshCaFuture, store, a.audit, a.revocationHub,
          new dev.m2mfa.authority.ssh.SshRequestAuthenticator(store, config.issuer(), a.keyring::jwksJson), a.policies()::current);
    } catch (IOException | RuntimeException e) {
      a.close();
      throw e;
    }
    return a;
  }

  /**
   * With {@code policy=} in authority.conf: the policy files, validated now (a bad file refuses
   * start-up with every error as file:line:col) and watched every second afterwards (a bad edit
   * keeps the old policy and is audited); without: the {@code class.*} lines.
   */
  private static dev.m2mfa.authority.policy.PolicySource policySource(AuthorityConfig config, java.util.Set<String> installed, AuditLog audit) {
    if (config.policyPath().isEmpty()) {
      return dev.m2mfa.authority.policy.PolicySource.fixed(dev.m2mfa.authority.policy.Policy.fromLegacyClasses(config.policyClasses(),
          config.tokenLifetime(), config.certificateLifetime()));
    }
    dev.m2mfa.authority.policy.PolicySource source;
    try {
      source = dev.m2mfa.authority.policy.PolicySource.open(List.of(config.policyPath().get()), installed);
    } catch (dev.m2mfa.authority.policy.PolicyException e) {
      throw new IllegalArgumentException("the policy does not load: " + String.join("; ", e.errors().stream().map(Object::toString).toList()));
    }
    source.onReload(status -> audit.appendAndWait(status.healthy() ? "policy.reloaded" : "policy.reload_failed", "",
        status.healthy() ? Map.of("generation", status.generation(), "digest", status.digest())
            : Map.of("generation", status.generation(), "digest", status.digest(), "error", status.firstError().orElse(""))));
    source.startWatching(Duration.ofSeconds(1));
    return source;
  }

  /** The policy in force and its reload status. */
  public dev.m2mfa.authority.policy.PolicySource policies() {
    return policies;
  }

  private static Map<String, FactorVerifier> bind(Map<String, FactorVerifier> verifiers,
      dev.m2mfa.authority.factor.AuthorityBound.Services services) {
    for (FactorVerifier v : verifiers.values()) {
      if (v instanceof dev.m2mfa.authority.factor.AuthorityBound b) b.bind(services);
    }
    return verifiers;
  }

  private static Map<String, FactorVerifier> loadVerifiers(AuthorityConfig config) {
    Map<String, FactorVerifier> found = new LinkedHashMap<>();
    for (FactorVerifier v : ServiceLoader.load(FactorVerifier.class)) {
      if (found.putIfAbsent(v.name(), v) != null) throw new IllegalStateException("two verifiers for factor " + v.name());
    }
    for (var e : config.policyPath().isPresent() ? Map.<String, List<String>>of().entrySet() : config.policyClasses().entrySet()) {
      for (String f : e.getValue()) {
        if (!found.containsKey(f)) throw new IllegalStateException("class." + e.getKey() + " requires factor '" + f + "' but no verifier for it is installed (installed: " + found.keySet() + ")");
      }
    }
    return found;
  }

  /** Starts HTTPS with a fresh server key and certificate from the issuing CA. */
  public synchronized void start() throws Exception {
    KeyPair tls = KeyFiles.newP256();
    X509Certificate cert = ca.issueServer(tls.getPublic(), CertificateAuthority.defaultServerNames(config.listenHost()), Duration.ofDays(30));
    SSLContext ctx = TlsContexts.create(ca.root(), ca.chainFor(cert), tls.getPrivate());
    running = true;
    server = new AuthorityServer(this, ctx, config.listenHost(), config.listenPort());
    server.start();
    audit.append("authority.started", "", Map.of("port", server.port()));
  }

  public int port() {
    return server.port();
  }

  public boolean running() {
    return running;
  }

  public AuthorityConfig config() {
    return config;
  }

  public Store store() {
    return store;
  }

  public CertificateAuthority ca() {
    return ca;
  }

  public AuditLog audit() {
    return audit;
  }

  public SigningKeyring keyring() {
    return keyring;
  }

  public RevocationHub revocationHub() {
    return revocationHub;
  }

  /** The otp-chain factor, when installed (for the agent's acknowledgement call). */
  public java.util.Optional<dev.m2mfa.authority.factor.otpchain.OtpChainFactor> otpChain() {
    return java.util.Optional.ofNullable(otpChain);
  }

  public RevocationService revocations() {
    return revocations;
  }

  public EnrollmentService enrollment() {
    return enrollment;
  }

  /** TPM enrollment by credential activation (settings from the directory's {@code tpm/} folder). */
  public dev.m2mfa.authority.enroll.tpm.TpmEnrollmentService tpmEnrollment() {
    return tpmEnrollment;
  }

  public LoginService login() {
    return login;
  }

  /** OpenSSH user and host certificates, and the KRL. */
  public dev.m2mfa.authority.ssh.SshService ssh() {
    return ssh;
  }

  @Override
  public synchronized void close() {
    running = false;
    housekeeping.shutdownNow();
    policies.close();
    if (server != null) server.close();
    audit.close();
    store.close();
  }
}
