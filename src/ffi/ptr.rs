//! Turning C (pointer, length) pairs into Rust slices, with every NULL rule of
//! the ABI in one place.

use crate::Status;

/// `(NULL, 0)` is an empty input; `(NULL, n > 0)` is a NULL argument.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` readable bytes that stay unchanged
/// for `'a`.
pub(super) unsafe fn input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Status> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Status::NullArgument);
    }
    // SAFETY: non-NULL and `len` readable bytes per this function's contract;
    // `u8` has no alignment requirement.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A required pointer: NULL is a NULL argument whatever the length.
///
/// # Safety
/// As for [`input`].
pub(super) unsafe fn required<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Status> {
    if ptr.is_null() {
        return Err(Status::NullArgument);
    }
    // SAFETY: forwarded contract.
    unsafe { input(ptr, len) }
}

/// True when the byte ranges share any byte.
pub(super) fn overlaps(a: *const u8, a_len: usize, b: *const u8, b_len: usize) -> bool {
    let (a, b) = (a as usize, b as usize);
    a_len > 0 && b_len > 0 && a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}
