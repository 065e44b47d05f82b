package dev.m2mfa.authority.store;

/** One event of the revocation stream: {@code kind} is {@code revoke} or {@code reinstate}. */
public record RevocationRecord(long seq, String kind, String subject, String reason, long at) {}
