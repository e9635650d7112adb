//! Which rows of a long list to render: the ones on screen and a few either side (windowed
//! rendering), so that a list of 30,000 Projects costs what a screenful costs. Rows have one
//! height; the rows above and below the window are stood in for by padding of their height,
//! so the scroll bar and keyboard navigation cover the whole list.
//!
//! Pure, tested natively; `pages/projects.rs` renders it.

use std::ops::Range;

/// The height of one row, in CSS pixels (`www/app.css` gives `.windowed li` this height).
/// Pixels are whole numbers here: formatting a float would link the float formatter.
pub const ROW_PX: usize = 40;
/// Rows rendered beyond each edge of the screen, so that scrolling a little shows rows already
/// there.
pub const OVERSCAN: usize = 10;
/// The height assumed for the list's viewport before it is measured.
pub const FIRST_VIEWPORT_PX: usize = 800;

/// The rows to render for a list of `count` rows scrolled to `scroll_top` in a viewport
/// `viewport` pixels high.
pub fn rows(count: usize, scroll_top: usize, viewport: usize) -> Range<usize> {
    let first_visible = scroll_top / ROW_PX;
    let visible = viewport.div_ceil(ROW_PX) + 1;
    let start = first_visible.saturating_sub(OVERSCAN).min(count);
    let end = first_visible.saturating_add(visible).saturating_add(OVERSCAN).min(count);
    start..end.max(start)
}

/// The padding that stands in for the rows before and after `window`, in pixels.
pub fn padding(count: usize, window: &Range<usize>) -> (usize, usize) {
    (window.start.saturating_mul(ROW_PX), count.saturating_sub(window.end).saturating_mul(ROW_PX))
}

/// Where to scroll so that row `index` is in a viewport `viewport` pixels high now scrolled to
/// `scroll_top`: unchanged if it already is, else just enough.
pub fn scroll_to_show(index: usize, scroll_top: usize, viewport: usize) -> usize {
    let top = index.saturating_mul(ROW_PX);
    if top < scroll_top {
        top
    } else if top + ROW_PX > scroll_top + viewport {
        (top + ROW_PX).saturating_sub(viewport)
    } else {
        scroll_top
    }
}

/// The row a key moves to from `index` in a list of `count` (`ArrowDown`, `ArrowUp`,
/// `PageDown`, `PageUp`, `Home`, `End`), a page being what `viewport` shows; `None` for
/// another key or an empty list.
pub fn moved(key: &str, index: usize, count: usize, viewport: usize) -> Option<usize> {
    let last = count.checked_sub(1)?;
    let page = (viewport / ROW_PX).max(1);
    let to = match key {
        "ArrowDown" => index.saturating_add(1),
        "ArrowUp" => index.saturating_sub(1),
        "PageDown" => index.saturating_add(page),
        "PageUp" => index.saturating_sub(page),
        "Home" => 0,
        "End" => last,
        _ => return None,
    };
    Some(to.min(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_screenful_and_the_overscan_are_rendered() {
        assert_eq!(rows(30_000, 0, 400), 0..21);
        assert_eq!(rows(30_000, 4_000, 400), 90..121);
        assert_eq!(rows(30_000, 30_000 * ROW_PX, 400), 29_990..30_000);
        assert_eq!(rows(5, 0, 800), 0..5);
        assert_eq!(rows(0, 100, 800), 0..0);
        assert_eq!(rows(10, 0, 0), 0..10);
        let window = rows(30_000, 4_000, 400);
        assert_eq!(padding(30_000, &window), (3_600, (30_000 - 121) * ROW_PX));
    }

    #[test]
    fn keys_move_within_the_list_and_scroll_only_as_needed() {
        assert_eq!(moved("ArrowDown", 0, 3, 400), Some(1));
        assert_eq!(moved("ArrowDown", 2, 3, 400), Some(2));
        assert_eq!(moved("ArrowUp", 0, 3, 400), Some(0));
        assert_eq!(moved("PageDown", 0, 100, 400), Some(10));
        assert_eq!(moved("End", 0, 100, 400), Some(99));
        assert_eq!(moved("Home", 50, 100, 400), Some(0));
        assert_eq!(moved("x", 0, 100, 400), None);
        assert_eq!(moved("Home", 0, 0, 400), None);
        assert_eq!(scroll_to_show(5, 0, 400), 0);
        assert_eq!(scroll_to_show(10, 0, 400), 40);
        assert_eq!(scroll_to_show(2, 400, 400), 80);
    }
}
