//! S3 event keys arrive form-URL-encoded: a space as `+`, and other bytes as `%XX` (`/` too, from some senders).

use percent_encoding::percent_decode_str;

/// The object key an S3 event names.
pub fn decode_s3_key(encoded: &str) -> String {
    // `+` first: a literal plus arrives as %2B and must survive.
    let spaced = encoded.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(decode_s3_key("uploads/team+a%2Bb.csv"), "uploads/team a+b.csv");
        assert_eq!(decode_s3_key("uploads%2Fx+y%2Bz.csv"), "uploads/x y+z.csv", "an encoded slash, as moto sends it");
        assert_eq!(decode_s3_key("uploads/%C3%A9quipe.csv"), "uploads/équipe.csv");
        assert_eq!(decode_s3_key("uploads/plain.csv"), "uploads/plain.csv");
    }
}
