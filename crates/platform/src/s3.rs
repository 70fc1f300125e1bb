//! AWS Signature Version 4 for S3 (path-style) and the guest-side bucket check.
