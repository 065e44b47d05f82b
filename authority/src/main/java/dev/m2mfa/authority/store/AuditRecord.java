package dev.m2mfa.authority.store;

/** One hash-chained audit record; {@code detail} is a JSON object. */
public record AuditRecord(long seq, long at, String event, String subject, String detail, String prevHash, String hash) {}
