package dev.m2mfa.verifier;

import dev.m2mfa.verifier.TokenRejectedException.Reason;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * Counters of one {@link TokenVerifier}, cheap to update from many threads ({@link LongAdder}),
 * and their Prometheus text exposition.
 */
public final class VerifierMetrics {

    private final LongAdder accepted = new LongAdder();
    private final Map<Reason, LongAdder> rejected = new EnumMap<>(Reason.class);
    private final LongAdder jwksFetches = new LongAdder();
    private final LongAdder jwksFetchFailures = new LongAdder();
    private final LongAdder revocationLines = new LongAdder();
    private final LongAdder revocationReconnects = new LongAdder();
    private final BooleanSupplier revocationFresh;
    private final LongSupplier revocationSeq;

    VerifierMetrics(BooleanSupplier revocationFresh, LongSupplier revocationSeq) {
        for (Reason r : Reason.values()) {
            rejected.put(r, new LongAdder()); // filled once here, only read afterwards
        }
        this.revocationFresh = revocationFresh;
        this.revocationSeq = revocationSeq;
    }

    void accepted() {
        accepted.increment();
    }

    void rejected(Reason reason) {
        rejected.get(reason).increment();
    }

    void jwksFetch() {
        jwksFetches.increment();
    }

    void jwksFetchFailure() {
        jwksFetchFailures.increment();
    }

    void revocationLine() {
        revocationLines.increment();
    }

    void revocationReconnect() {
        revocationReconnects.increment();
    }

    /** Tokens accepted. */
    public long acceptedCount() {
        return accepted.sum();
    }

    /** Tokens refused for {@code reason}. */
    public long rejectedCount(Reason reason) {
        return rejected.get(reason).sum();
    }

    /** JWKS fetches attempted, successful or not. */
    public long jwksFetchCount() {
        return jwksFetches.sum();
    }

    /** JWKS fetches that failed (network, status, size or parse). */
    public long jwksFetchFailureCount() {
        return jwksFetchFailures.sum();
    }

    /** Revocation stream lines applied. */
    public long revocationLineCount() {
        return revocationLines.sum();
    }

    /** Revocation stream reconnects. */
    public long revocationReconnectCount() {
        return revocationReconnects.sum();
    }

    /** The counters in the Prometheus text format (version 0.0.4). */
    public String toPrometheusText() {
        StringBuilder b = new StringBuilder(2048);
        counter(b, "m2mfa_verifier_accepted_total", "Access tokens accepted.", accepted.sum());
        b.append("# HELP m2mfa_verifier_rejected_total Access tokens refused, by reason.\n");
        b.append("# TYPE m2mfa_verifier_rejected_total counter\n");
        for (Map.Entry<Reason, LongAdder> e : rejected.entrySet()) {
            b.append("m2mfa_verifier_rejected_total{reason=\"").append(e.getKey().name().toLowerCase(Locale.ROOT))
                    .append("\"} ").append(e.getValue().sum()).append('\n');
        }
        counter(b, "m2mfa_verifier_jwks_fetches_total", "JWKS fetches attempted.", jwksFetches.sum());
        counter(b, "m2mfa_verifier_jwks_fetch_failures_total", "JWKS fetches that failed.", jwksFetchFailures.sum());
        counter(b, "m2mfa_verifier_revocation_lines_total", "Revocation stream lines applied.", revocationLines.sum());
        counter(b, "m2mfa_verifier_revocation_reconnects_total", "Revocation stream reconnects.",
                revocationReconnects.sum());
        gauge(b, "m2mfa_verifier_revocation_fresh", "1 if revocation data is within the staleness bound.",
                revocationFresh.getAsBoolean() ? 1 : 0);
        gauge(b, "m2mfa_verifier_revocation_seq", "Last revocation sequence number applied.",
                revocationSeq.getAsLong());
        return b.toString();
    }

    private static void counter(StringBuilder b, String name, String help, long value) {
        metric(b, name, help, "counter", value);
    }

    private static void gauge(StringBuilder b, String name, String help, long value) {
        metric(b, name, help, "gauge", value);
    }

    private static void metric(StringBuilder b, String name, String help, String type, long value) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        b.append(name).append(' ').append(value).append('\n');
    }
}
