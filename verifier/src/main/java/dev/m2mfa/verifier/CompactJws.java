package dev.m2mfa.verifier;

import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.Map;

/**
 * An untrusted compact JWS split into its three parts, with its header parsed as JSON and
 * nothing else interpreted. The payload is parsed only after the caller verified the signature.
 */
final class CompactJws {

    /** Longest token or proof accepted, in characters. */
    static final int MAX_CHARS = 8192;

    private final String encodedHeader;
    private final String encodedPayload;
    private final String encodedSignature;
    private final Map<String, Object> headerJson;

    private CompactJws(String h, String p, String s, Map<String, Object> headerJson) {
        this.encodedHeader = h;
        this.encodedPayload = p;
        this.encodedSignature = s;
        this.headerJson = headerJson;
    }

    /** Splits and parses the header; any deviation from base64url parts joined by dots fails. */
    static CompactJws parse(String untrusted) throws ParseException {
        if (untrusted == null || untrusted.isEmpty() || untrusted.length() > MAX_CHARS) {
            throw new ParseException("empty or oversized JWS", 0);
        }
        int dot1 = -1;
        int dot2 = -1;
        for (int i = 0; i < untrusted.length(); i++) {
            char c = untrusted.charAt(i);
            if (c == '.') {
                if (dot1 < 0) {
                    dot1 = i;
                } else if (dot2 < 0) {
                    dot2 = i;
                } else {
                    throw new ParseException("more than three parts", i);
                }
            } else if (!isBase64Url(c)) {
                throw new ParseException("not base64url", i);
            }
        }
        if (dot2 < 0 || dot1 == 0) {
            throw new ParseException("not a compact JWS", 0);
        }
        String h = untrusted.substring(0, dot1);
        String p = untrusted.substring(dot1 + 1, dot2);
        String s = untrusted.substring(dot2 + 1);
        Map<String, Object> json = JSONObjectUtils.parse(new Base64URL(h).decodeToString());
        return new CompactJws(h, p, s, json);
    }

    private static boolean isBase64Url(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    }

    /** The {@code alg} header value if it is a string, else null. */
    String alg() {
        return headerJson.get("alg") instanceof String a ? a : null;
    }

    /** The header as Nimbus reads it (call only once the {@code alg} is known to be ES256). */
    JWSHeader header() throws ParseException {
        return JWSHeader.parse(headerJson, new Base64URL(encodedHeader));
    }

    byte[] signingInput() {
        return (encodedHeader + "." + encodedPayload).getBytes(StandardCharsets.US_ASCII);
    }

    Base64URL signature() {
        return new Base64URL(encodedSignature);
    }

    /** The payload as a JSON object. Only after the signature verified. */
    Map<String, Object> payloadJson() throws ParseException {
        return JSONObjectUtils.parse(new Base64URL(encodedPayload).decodeToString());
    }
}
