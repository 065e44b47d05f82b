package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.verifier.TokenVerifier;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code m2mfa demo}: a whole deployment on one machine, in a temp directory, with no set-up.
 * An authority (SQLite, real TLS on loopback), machines whose agents enroll and log in, and a
 * relying service guarded by the verifier. Distinct loopback source addresses (127.0.0.x) stand
 * in for distinct networks. Each scene states what should happen and what did.
 */
public final class Demo {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String AUDIENCE = "inventory";

  /** One scene's outcome. */
  public record Scene(String name, String expected, String observed, boolean ok) {}

  private final PrintStream say;
  private final List<Scene> scenes = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private long revocationPropagationMs = -1;

  public Demo(PrintStream narrative) {
    this.say = narrative;
  }

  public List<Scene> scenes() {
    return scenes;
  }

  public long revocationPropagationMs() {
    return revocationPropagationMs;
  }

  /** Runs every scene; returns true if all were ok. */
  public boolean run() throws Exception {
    Path tmp = Files.createTempDirectory("m2mfa-demo");
    try {
      return play(tmp);
    } finally {
      http.close();
      try (Stream<Path> s = Files.walk(tmp)) {
        s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private boolean play(Path tmp) throws Exception {
    char[] passphrase = randomSecret();
    Path authDir = tmp.resolve("authority");
    say.println("m2mfa demo: one authority, two machines, one thief, one relying service, all on loopback\n");
    long t0 = System.nanoTime();
    Authority.init(authDir, AuthorityConfig.defaults(), passphrase, "ops");
    long tInit = System.nanoTime();
    try (Authority authority = Authority.open(authDir, passphrase, c -> c.withListen("127.0.0.1", 0).withHeartbeat(Duration.ofMillis(250)))) {
      authority.start();
      long tReady = System.nanoTime();
      int port = authority.port();
      say.printf("  authority: initialized in %d ms (CA, admin certificate, SQLite), serving TLS 1.3 on 127.0.0.1:%d %d ms after open%n",
          ms(tInit - t0), port, ms(tReady - tInit));
      URI base = URI.create("https://127.0.0.1:" + port);
      try (AdminClient admin = AdminClient.forAuthorityDir(authDir, "127.0.0.1", port);
          TokenVerifier verifier = TokenVerifier.builder().issuer(authority.config().issuer()).audience(AUDIENCE)
              .authority(base).trustAnchors(authority.ca().root()).build()) {
        verifier.start();
        waitFor(verifier::revocationFresh, 5_000);
        try (RelyingService service = new RelyingService(verifier, "127.0.0.1")) {
          URI inventory = service.uri("/inventory");
          say.printf("  relying service: %s, guarded by the verifier (needs factors key+network, DPoP-bound token)%n%n", inventory);

          Agent a = enroll(admin, authority, tmp, "machine-a", "127.0.0.2", passphrase);
          Agent b = enroll(admin, authority, tmp, "machine-b", "127.0.0.3", passphrase);
          say.println("  machine-a enrolled from 127.0.0.2 (bound to 127.0.0.2/32); machine-b from 127.0.0.3 (127.0.0.3/32)\n");

          // Scene 1
          long l0 = System.nanoTime();
          Agent.Credential ca = a.login(AUDIENCE);
          long loginMs = ms(System.nanoTime() - l0);
          int status = call(inventory, "GET", "DPoP " + ca.accessToken(), a.dpopProof("GET", inventory, ca.accessToken()));
          scene("machine logs in and calls the service", "login with key+network, service answers 200",
              "login " + loginMs + " ms, amr=" + ca.amr() + ", acr=" + ca.acr() + ", service " + status, status == 200 && ca.amr().containsAll(List.of("key", "network")));

          // Scene 2
          Path stolen = tmp.resolve("stolen-a");
          copyTree(a.directory(), stolen);
          Agent thief = Agent.open(stolen, passphrase, InetAddress.ofLiteral("127.0.0.66"));
          String observed;
          boolean refused;
          try {
            thief.login(AUDIENCE);
            observed = "login succeeded";
            refused = false;
          } catch (Agent.RefusedException e) {
            observed = "refused " + e.status() + "; audit: " + lastDenialReason(authority, "network");
            refused = e.status() == 401;
          }
          scene("machine-a's key and files copied, used from 127.0.0.66", "login refused by the network factor", observed, refused);

          // Scene 3
          int bearer = call(inventory, "GET", "Bearer " + ca.accessToken(), null);
          int wrongKey = call(inventory, "GET", "DPoP " + ca.accessToken(), b.dpopProof("GET", inventory, ca.accessToken()));
          String proof = a.dpopProof("GET", inventory, ca.accessToken());
          int first = call(inventory, "GET", "DPoP " + ca.accessToken(), proof);
          int replay = call(inventory, "GET", "DPoP " + ca.accessToken(), proof);
          scene("machine-a's token stolen and used without its key", "bearer use, another key's proof, a replayed proof: all 401",
              "bearer " + bearer + ", other key " + wrongKey + ", fresh proof " + first + ", replayed proof " + replay,
              bearer == 401 && wrongKey == 401 && first == 200 && replay == 401);

          // Scene 4
          Agent aReenrolled = cloneScene(admin, authority, tmp, inventory, a, ca, passphrase);

          // the SSH scenes end by revoking machine-a, so they come after the clone scene (which needs it active)
          DemoSshScene.play(authority, admin, aReenrolled, b, tmp).forEach(s -> scene(s.name(), s.expected(), s.observed(), s.ok()));

          // Scene 5
          Agent.Credential cb = b.login(AUDIENCE);
          int before = call(inventory, "GET", "DPoP " + cb.accessToken(), b.dpopProof("GET", inventory, cb.accessToken()));
          long r0 = System.nanoTime();
          JsonNode rev = admin.post("/v1/admin/machines/machine-b/revoke", Map.of("reason", "demo: suspected compromise"));
          long acked = System.nanoTime();
          int after = 200;
          long deadline = r0 + Duration.ofSeconds(5).toNanos();
          while (after == 200 && System.nanoTime() < deadline) {
            after = call(inventory, "GET", "DPoP " + cb.accessToken(), b.dpopProof("GET", inventory, cb.accessToken()));
          }
          revocationPropagationMs = ms(System.nanoTime() - r0);
          scene("admin revokes machine-b", "the service refuses machine-b's still-valid token within 1000 ms",
              "before " + before + "; revoke acknowledged (durable, seq " + rev.path("seq").asLong() + ") in " + ms(acked - r0)
                  + " ms; service refused (" + after + ") " + revocationPropagationMs + " ms after the call",
              before == 200 && after == 401 && revocationPropagationMs <= 1000);

          // Scene 6
          String relogin;
          boolean reloginRefused;
          try {
            b.login(AUDIENCE);
            relogin = "login succeeded";
            reloginRefused = false;
          } catch (Agent.RefusedException e) {
            relogin = "refused " + e.status();
            reloginRefused = e.status() == 401;
          }
          scene("revoked machine-b tries to log in again", "refused", relogin, reloginRefused);

          DemoSealedScene.Outcome sealed = DemoSealedScene.play(admin, authority, tmp, AUDIENCE);
          scene("machine-c's key is sealed to 2 of 3 operator shares", sealed.expected(), sealed.observed(), sealed.ok());

          // Scene 7b: machine-d's key lives in a TPM (swtpm here; skipped with the reason when it is not installed)
          DemoTpmScene.play(authority, admin, tmp, say, "machine-d", "127.0.0.5").forEach(t -> scenes.add(t));

          // Scene 8
          JsonNode v = admin.get("/v1/admin/audit/verify");
          scene("audit log", "hash chain intact, every decision recorded",
              v.path("records").asLong() + " records, chain " + (v.path("ok").asBoolean() ? "intact" : "broken at " + v.path("first_broken")),
              v.path("ok").asBoolean() && v.path("records").asLong() >= 8);
        }
      }
    }
    say.println();
    say.println(table());
    return scenes.stream().allMatch(Scene::ok);
  }

  /**
   * A copy of machine-a's disk (a VM snapshot) runs on the same network. The copy logs in first
   * and moves the one-time secret on; the original's next login presents the secret the copy
   * made obsolete: the identity is locked and revoked, and the service refuses both tokens. An
   * admin then re-enrolls the original under its name with a new key.
   */
  private Agent cloneScene(AdminClient admin, Authority authority, Path tmp, URI inventory, Agent a, Agent.Credential aToken,
      char[] passphrase) throws Exception {
    Path snapshot = tmp.resolve("snapshot-of-machine-a");
    copyTree(a.directory(), snapshot);
    Agent copy = Agent.open(snapshot, passphrase, InetAddress.ofLiteral("127.0.0.2"));
    Agent.Credential copyToken = copy.login(AUDIENCE);
    int copyCall = call(inventory, "GET", "DPoP " + copyToken.accessToken(), copy.dpopProof("GET", inventory, copyToken.accessToken()));
    long t0 = System.nanoTime();
    boolean caught;
    try {
      a.login(AUDIENCE);
      caught = false;
    } catch (Agent.RefusedException e) {
      caught = e.status() == 401;
    }
    int original = 200;
    int copied = 200;
    long deadline = t0 + Duration.ofSeconds(5).toNanos();
    while ((original != 401 || copied != 401) && System.nanoTime() < deadline) {
      original = call(inventory, "GET", "DPoP " + aToken.accessToken(), a.dpopProof("GET", inventory, aToken.accessToken()));
      copied = call(inventory, "GET", "DPoP " + copyToken.accessToken(), copy.dpopProof("GET", inventory, copyToken.accessToken()));
    }
    long refusedMs = ms(System.nanoTime() - t0);
    String status = admin.get("/v1/admin/machines/machine-a").path("status").asText();
    String reason = lastDenialReason(authority, "otp-chain");

    String jt = admin.post("/v1/admin/machines/machine-a/reenroll", Map.of("ttl_seconds", 300)).path("join_token").asText();
    Agent renewed = Agent.enroll(tmp.resolve("machine-a-reenrolled"), "127.0.0.1", authority.port(), authority.ca().root(), jt, passphrase,
        InetAddress.ofLiteral("127.0.0.2"));
    Agent.Credential fresh = renewed.login(AUDIENCE);
    int renewedCall = 401;
    long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (renewedCall != 200 && System.nanoTime() < until) {
      renewedCall = call(inventory, "GET", "DPoP " + fresh.accessToken(), renewed.dpopProof("GET", inventory, fresh.accessToken()));
    }
    int oldCopyToken = call(inventory, "GET", "DPoP " + copyToken.accessToken(), copy.dpopProof("GET", inventory, copyToken.accessToken()));
    boolean copyRefused;
    try {
      copy.login(AUDIENCE);
      copyRefused = false;
    } catch (Agent.RefusedException e) {
      copyRefused = e.status() == 401;
    }
    scene("a copy of machine-a's disk runs as a second machine (otp-chain)",
        "the copy is caught, machine-a locked, the service refuses both tokens within 1000 ms; an admin re-enrolls the original",
        "copy logged in and called (" + copyCall + "); original's next login " + (caught ? "refused" : "accepted") + "; audit: " + reason
            + "; status " + status + "; service refused both (" + original + "/" + copied + ") " + refusedMs + " ms after detection; re-enrolled"
            + " original calls (" + renewedCall + "); the copy's old token " + oldCopyToken + ", its login " + (copyRefused ? "refused" : "accepted"),
        copyCall == 200 && caught && "locked".equals(status) && original == 401 && copied == 401 && refusedMs <= 1000 && renewedCall == 200
            && oldCopyToken == 401 && copyRefused);
    return renewed;
  }

  private Agent enroll(AdminClient admin, Authority authority, Path tmp, String name, String address, char[] passphrase) throws IOException {
    JsonNode t = admin.post("/v1/admin/join-tokens", Map.of("name", name, "cidrs", List.of(address + "/32"), "ttl_seconds", 300));
    return Agent.enroll(tmp.resolve(name), "127.0.0.1", authority.port(), authority.ca().root(), t.path("join_token").asText(),
        passphrase, InetAddress.ofLiteral(address));
  }

  private String lastDenialReason(Authority authority, String factor) {
    String[] reason = {"(none)"};
    authority.store().audit().scan(1, r -> {
      if (!r.event().equals("login.denied")) return;
      try {
        for (JsonNode f : JSON.readTree(r.detail()).path("factors")) {
          if (f.path("factor").asText().equals(factor) && !f.path("status").asText().equals("PASS")) reason[0] = factor + " " + f.path("status").asText() + ": " + f.path("reason").asText();
        }
      } catch (IOException ignored) {
        // unreadable record: keep the previous reason
      }
    });
    return reason[0];
  }

  private int call(URI uri, String method, String authorization, String dpop) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody()).header("Authorization", authorization);
    if (dpop != null) b.header("DPoP", dpop);
    return http.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  private void scene(String name, String expected, String observed, boolean ok) {
    scenes.add(new Scene(name, expected, observed, ok));
    say.printf("  [%s] %s%n        expected: %s%n        observed: %s%n%n", ok ? " ok " : "FAIL", name, expected, observed);
  }

  private String table() {
    StringBuilder sb = new StringBuilder("  summary\n  -------\n");
    for (Scene s : scenes) sb.append(String.format("  %-4s  %s%n", s.ok ? "ok" : "FAIL", s.name));
    sb.append(String.format("  revocation propagation: %d ms (revoke call to the service refusing)%n", revocationPropagationMs));
    return sb.toString();
  }

  /** The JSON summary printed by {@code --json}. */
  public String json() throws IOException {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("scenes", scenes);
    out.put("revocation_propagation_ms", revocationPropagationMs);
    return JSON.writeValueAsString(out);
  }

  private static void waitFor(java.util.function.BooleanSupplier cond, long millis) throws InterruptedException {
    long deadline = System.currentTimeMillis() + millis;
    while (!cond.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) throw new IllegalStateException("timed out waiting for the verifier's first revocation sync");
      Thread.sleep(10);
    }
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(target);
        else Files.copy(p, target);
      }
    }
  }

  private static char[] randomSecret() {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b).toCharArray();
  }

  private static long ms(long nanos) {
    return nanos / 1_000_000;
  }
}
