//! Giving back the read-only pages that only starting needed.
//!
//! Loading idic and its plugins reads a good part of their read-only segment
//! (ELF headers, dynamic symbols, relocations, `.rodata`, `.eh_frame`), and the
//! kernel maps a file's pages 64 KiB at a time around each one read (fault
//! around): at 20 clusters about 1.6 MiB of idic's and the InfluxDB plugin's
//! read-only pages stayed resident after start, most of them never read again.
//! Once the sinks are started, [`drop_start_up_pages`] tells the kernel that
//! idic no longer needs them (`MADV_DONTNEED`); the pages collecting does read
//! come back from the page cache on their first use, as if memory pressure had
//! reclaimed them.
//!
//! That is only safe for pages nobody ever wrote, so only a segment that is
//! loaded read-only (`PT_LOAD` with flags `PF_R` alone, wholly from the file)
//! of an object without text relocations (which the dynamic linker applies by
//! writing to read-only segments) is dropped. Executable code is left alone
//! (its hot part is grouped by the hot-text linker scripts), and so is RELRO,
//! which lives in a segment loaded writable.

/// Drops the resident pages of every read-only segment of idic and of the
/// libraries loaded so far; returns how many bytes were advised. Linux only;
/// elsewhere nothing happens.
pub fn drop_start_up_pages() -> usize {
    #[cfg(target_os = "linux")]
    {
        linux::drop_read_only_segments()
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::{c_int, c_void};

    /// `Elf64_Dyn` (the libc crate does not define it).
    #[repr(C)]
    struct Dyn {
        tag: i64,
        val: u64,
    }

    const DT_NULL: i64 = 0;
    const DT_TEXTREL: i64 = 22;
    const DT_FLAGS: i64 = 30;
    const DF_TEXTREL: u64 = 0x4;

    pub fn drop_read_only_segments() -> usize {
        let mut advised: usize = 0;
        // SAFETY: the callback only reads the program headers and dynamic
        // sections glibc hands it, and `data` is the `usize` above.
        unsafe {
            libc::dl_iterate_phdr(Some(each_object), (&raw mut advised).cast());
        }
        advised
    }

    /// Advises the read-only segments of one loaded object.
    unsafe extern "C" fn each_object(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: glibc passes a valid `dl_phdr_info` whose `dlpi_phdr` points
        // to `dlpi_phnum` program headers, and `data` is our `usize`.
        let (info, advised) = unsafe { (&*info, &mut *data.cast::<usize>()) };
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: as above.
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let base = info.dlpi_addr as usize;
        // SAFETY: a PT_DYNAMIC header points to the object's mapped dynamic section.
        if headers
            .iter()
            .any(|h| h.p_type == libc::PT_DYNAMIC && unsafe { has_text_relocations(base, h) })
        {
            return 0;
        }
        let page = page_size();
        for h in headers {
            if h.p_type != libc::PT_LOAD || h.p_flags != libc::PF_R || h.p_memsz != h.p_filesz {
                continue;
            }
            // Whole pages inside the segment only: a page shared with a
            // neighbouring segment is left alone.
            let start = (base + h.p_vaddr as usize).next_multiple_of(page);
            let end = (base + (h.p_vaddr + h.p_memsz) as usize) / page * page;
            if end > start {
                // SAFETY: the range is whole pages of a read-only file mapping
                // that was never written; dropping them loses nothing.
                if unsafe { libc::madvise(start as *mut c_void, end - start, libc::MADV_DONTNEED) }
                    == 0
                {
                    *advised += end - start;
                }
            }
        }
        0
    }

    /// Whether the object's dynamic section asks for text relocations.
    ///
    /// # Safety
    /// `header` is the object's PT_DYNAMIC header and `base` its load address.
    unsafe fn has_text_relocations(base: usize, header: &libc::Elf64_Phdr) -> bool {
        let mut entry = (base + header.p_vaddr as usize) as *const Dyn;
        let count = header.p_memsz as usize / std::mem::size_of::<Dyn>();
        for _ in 0..count {
            // SAFETY: within the mapped dynamic section, which ends at DT_NULL.
            let d = unsafe { &*entry };
            match d.tag {
                DT_NULL => break,
                DT_TEXTREL => return true,
                DT_FLAGS if d.val & DF_TEXTREL != 0 => return true,
                _ => {}
            }
            // SAFETY: the next entry is still inside the section (count bound).
            entry = unsafe { entry.add(1) };
        }
        false
    }

    fn page_size() -> usize {
        // SAFETY: sysconf takes a plain integer.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).unwrap_or(4096).max(4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A constant the test reads after the drop: it lives in `.rodata`.
    static TABLE: [u64; 4096] = {
        let mut t = [0u64; 4096];
        let mut i = 0;
        while i < 4096 {
            t[i] = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            i += 1;
        }
        t
    };

    #[test]
    #[cfg(target_os = "linux")]
    fn read_only_data_reads_the_same_after_its_pages_are_dropped() {
        let before: u64 = std::hint::black_box(&TABLE).iter().fold(0, |a, x| a ^ x);
        let advised = drop_start_up_pages();
        assert!(advised > 0, "the test binary has read-only segments");
        let after: u64 = std::hint::black_box(&TABLE).iter().fold(0, |a, x| a ^ x);
        assert_eq!(before, after);
        // Code, the allocator, formatting and unwinding tables still work.
        let text = format!("{:?}", vec![1.5f64, 2.25]);
        assert_eq!(text, "[1.5, 2.25]");
        let caught = std::panic::catch_unwind(|| panic!("still unwinds"));
        assert!(caught.is_err());
    }
}
