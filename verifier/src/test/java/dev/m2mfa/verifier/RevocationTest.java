package dev.m2mfa.verifier;

import static dev.m2mfa.verifier.TokenVerifierTest.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.m2mfa.verifier.TokenRejectedException.Reason;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The revocation stream, end to end: snapshot, live revoke and reinstate, resume, staleness. */
class RevocationTest {

    static final Instant NOW = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    static final String URL = "https://billing.internal/v1/invoices";

    static FakeAuthority authority;
    Mint mint;
    TokenVerifier verifier;

    @BeforeAll
    static void startAuthority() throws Exception {
        authority = new FakeAuthority(Duration.ofMillis(50));
    }

    @AfterAll
    static void stopAuthority() {
        authority.close();
    }

    @BeforeEach
    void setUp() {
        mint = new Mint(NOW);
        authority.setJwks(Mint.jwks(mint.authorityKey));
        authority.heartbeats(true);
    }

    @AfterEach
    void tearDown() {
        authority.heartbeats(true);
        if (verifier != null) {
            verifier.close();
        }
    }

    TokenVerifier start(Consumer<TokenVerifier.Builder> edit) {
        TokenVerifier.Builder b = TokenVerifier.builder().issuer(Mint.ISSUER).audience(Mint.AUDIENCE)
                .authority(authority.base()).trustAnchors(authority.root()).clock(Clock.fixed(NOW, ZoneOffset.UTC));
        edit.accept(b);
        verifier = b.build();
        verifier.start();
        return verifier;
    }

    static String machine() {
        return "spiffe://m2mfa.local/machine/m-" + UUID.randomUUID();
    }

    /** Verifies a fresh token for {@code subject} with a fresh proof; null if accepted. */
    /** A token issued at the real current time (after any reinstate so far). */
    Reason outcomeIssuedNow(String subject) {
        java.util.Date issued = new java.util.Date(System.currentTimeMillis() + 1_000);
        String token = mint.token(c -> c.subject(subject).issueTime(issued).notBeforeTime(issued));
        TokenRequest r = TokenRequest.builder().authorization("DPoP " + token).dpop(mint.proof("GET", URL, token))
                .method("GET").uri(URL).build();
        TokenRejectedException e = catchThrowableOfType(TokenRejectedException.class, () -> verifier.verify(r));
        return e == null ? null : e.reason();
    }

    Reason outcome(String subject) {
        String token = mint.token(c -> c.subject(subject));
        TokenRequest r = TokenRequest.builder().authorization("DPoP " + token).dpop(mint.proof("GET", URL, token))
                .method("GET").uri(URL).build();
        TokenRejectedException e = catchThrowableOfType(TokenRejectedException.class, () -> verifier.verify(r));
        return e == null ? null : e.reason();
    }

    @Test
    void appliesTheSnapshotAtStart() {
        String revoked = machine();
        String fine = machine();
        authority.revoke(revoked);
        List<String> heard = new CopyOnWriteArrayList<>();
        start(b -> { });
        verifier.onRevocation(heard::add); // may miss the snapshot; checked below by outcome
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        assertThat(outcome(revoked)).isEqualTo(Reason.REVOKED);
        assertThat(outcome(fine)).isNull();
        assertThat(verifier.lastRevocationSeq()).isEqualTo(authority.latestSeq());
        assertThat(authority.streamAfters).contains(0L);
    }

    @Test
    void refusesASubjectRevokedWhileRunningAndAcceptsItAgainWhenReinstated() {
        String subject = machine();
        List<String> heard = new CopyOnWriteArrayList<>();
        // the verifier's clock stands still at NOW; tokens minted after the reinstate carry the real time
        start(b -> b.clockSkew(Duration.ofMinutes(5)));
        verifier.onRevocation(heard::add);
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        assertThat(outcome(subject)).isNull();

        long t0 = System.nanoTime();
        long seq = authority.revoke(subject);
        await(Duration.ofSeconds(15), () -> outcome(subject) == Reason.REVOKED);
        long propagationMicros = (System.nanoTime() - t0) / 1000;
        System.out.println("revocation propagation (push to refusal): " + propagationMicros + " µs");
        assertThat(heard).contains(subject);
        assertThat(verifier.lastRevocationSeq()).isGreaterThanOrEqualTo(seq);
        assertThat(verifier.metrics().rejectedCount(Reason.REVOKED)).isGreaterThanOrEqualTo(1);

        String issuedBeforeReinstate = mint.token(c -> c.subject(subject).issueTime(new java.util.Date(System.currentTimeMillis() - 2_000)));
        long reinstateSeq = authority.reinstate(subject);
        await(Duration.ofSeconds(15), () -> outcomeIssuedNow(subject) == null);
        // revocation is final for tokens issued before it: a re-enrolled machine's old tokens stay refused
        TokenRequest old = TokenRequest.builder().authorization("DPoP " + issuedBeforeReinstate)
                .dpop(mint.proof("GET", URL, issuedBeforeReinstate)).method("GET").uri(URL).build();
        assertThat(catchThrowableOfType(TokenRejectedException.class, () -> verifier.verify(old)).reason()).isEqualTo(Reason.REVOKED);
        // with the authority's rsq claim the rule does not depend on clocks: issued at an earlier
        // revocation sequence number than the reinstate is refused, at or after it is accepted
        assertThat(outcomeWithRsq(subject, reinstateSeq - 1)).isEqualTo(Reason.REVOKED);
        assertThat(outcomeWithRsq(subject, reinstateSeq)).isNull();
    }

    Reason outcomeWithRsq(String subject, long rsq) {
        String token = mint.token(c -> c.subject(subject).claim("rsq", rsq));
        TokenRequest r = TokenRequest.builder().authorization("DPoP " + token).dpop(mint.proof("GET", URL, token))
                .method("GET").uri(URL).build();
        TokenRejectedException e = catchThrowableOfType(TokenRejectedException.class, () -> verifier.verify(r));
        return e == null ? null : e.reason();
    }

    @Test
    void resumesFromTheLastSeqAfterADroppedConnection() {
        start(b -> { });
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        String first = machine();
        long seq = authority.revoke(first);
        await(Duration.ofSeconds(15), () -> verifier.lastRevocationSeq() >= seq);
        int connectionsBefore = authority.streamAfters.size();

        authority.dropStreams();
        String second = machine();
        authority.revoke(second);
        await(Duration.ofSeconds(10), () -> outcome(second) == Reason.REVOKED);
        assertThat(outcome(first)).isEqualTo(Reason.REVOKED);
        List<Long> resumed = authority.streamAfters.subList(connectionsBefore, authority.streamAfters.size());
        assertThat(resumed).isNotEmpty().allSatisfy(after -> assertThat(after).isGreaterThanOrEqualTo(seq));
        assertThat(verifier.metrics().revocationReconnectCount()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void failsClosedWhenHeartbeatsStopAndRecoversWhenTheyResume() {
        Duration staleness = Duration.ofMillis(300);
        start(b -> b.revocationStaleness(staleness));
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        String subject = machine();
        assertThat(outcome(subject)).isNull();

        authority.heartbeats(false);
        await(Duration.ofSeconds(15), () -> outcome(subject) == Reason.REVOCATION_STALE);
        // No line reached the verifier after the server's last write, so it must have stayed
        // fresh for the whole staleness bound after that write.
        long staleAfterLastLineMillis = (System.nanoTime() - authority.lastLineWrittenNanos) / 1_000_000;
        assertThat(staleAfterLastLineMillis).isGreaterThanOrEqualTo(staleness.toMillis());
        assertThat(verifier.revocationFresh()).isFalse();
        assertThat(verifier.metrics().toPrometheusText()).contains("m2mfa_verifier_revocation_fresh 0\n");

        authority.heartbeats(true);
        await(Duration.ofSeconds(10), () -> outcome(subject) == null);
    }

    @Test
    void staysStaleAndKeylessWithAnUntrustedAuthority() throws Exception {
        TestPki stranger = new TestPki("some other root");
        int connectionsBefore = authority.streamAfters.size();
        start(b -> b.trustAnchors(stranger.ca));
        // wait until it has tried, and failed, to connect twice
        await(Duration.ofSeconds(10), () -> verifier.metrics().revocationReconnectCount() >= 2
                && verifier.metrics().jwksFetchFailureCount() >= 1);
        assertThat(verifier.revocationFresh()).isFalse();
        assertThat(authority.streamAfters).hasSize(connectionsBefore); // no request got through TLS
        assertThat(outcome(machine())).isEqualTo(Reason.UNKNOWN_KEY);
    }

    /** Injects {@code line} and waits until the verifier has read it and everything before it. */
    void injectAndAwaitRead(String line) {
        int written = authority.injectedWritten.get();
        authority.inject(line);
        await(Duration.ofSeconds(15), () -> authority.injectedWritten.get() > written);
        // a real revocation after it: once that is applied, so is every line before it
        String marker = machine();
        authority.revoke(marker);
        await(Duration.ofSeconds(15), () -> outcome(marker) == Reason.REVOKED);
    }

    @Test
    void ignoresAReinstateOlderThanWhatItApplied() {
        start(b -> { });
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        String subject = machine();
        long seq = authority.revoke(subject);
        await(Duration.ofSeconds(15), () -> outcome(subject) == Reason.REVOKED);
        int connections = authority.streamAfters.size();
        injectAndAwaitRead("{\"type\":\"reinstate\",\"seq\":" + seq + ",\"sub\":\"" + subject + "\",\"at\":1}");
        assertThat(outcome(subject)).isEqualTo(Reason.REVOKED);
        assertThat(authority.streamAfters).hasSize(connections); // ignored, not a protocol error
    }

    @Test
    void resumesFromItsOwnSeqWhenAHeartbeatShowsMissedLines() {
        start(b -> { });
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        long applied = verifier.lastRevocationSeq();
        int connections = authority.streamAfters.size();
        authority.inject("{\"type\":\"heartbeat\",\"seq\":" + (applied + 100) + ",\"at\":1}");
        await(Duration.ofSeconds(15), () -> authority.streamAfters.size() > connections);
        assertThat(authority.streamAfters.get(connections)).isEqualTo(applied);
        assertThat(verifier.lastRevocationSeq()).isEqualTo(applied);
    }

    @Test
    void takesANewSnapshotWhenTheAuthoritysSeqGoesBack() {
        start(b -> { });
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        String subject = machine();
        long seq = authority.revoke(subject);
        await(Duration.ofSeconds(15), () -> verifier.lastRevocationSeq() >= seq);
        int connections = authority.streamAfters.size();
        authority.inject("{\"type\":\"heartbeat\",\"seq\":" + (seq - 1) + ",\"at\":1}");
        await(Duration.ofSeconds(15), () -> authority.streamAfters.size() > connections);
        assertThat(authority.streamAfters.get(connections)).isZero();
        await(Duration.ofSeconds(15), verifier::revocationFresh);
        assertThat(outcome(subject)).isEqualTo(Reason.REVOKED);
    }

    @Test
    void reconnectsAfterALineItCannotRead() {
        start(b -> { });
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        long applied = verifier.lastRevocationSeq();
        for (String bad : List.of("not json", "{\"type\":\"revoke\",\"seq\":\"x\",\"sub\":\"s\"}",
                "{\"type\":\"revoke\",\"sub\":\"s\"}", "{\"type\":\"revoke\",\"seq\":999999}")) {
            int connections = authority.streamAfters.size();
            authority.inject(bad);
            await(Duration.ofSeconds(15), () -> authority.streamAfters.size() > connections);
            assertThat(authority.streamAfters.get(connections)).as(bad).isEqualTo(applied);
        }
        assertThat(verifier.lastRevocationSeq()).isEqualTo(applied);
    }
}
