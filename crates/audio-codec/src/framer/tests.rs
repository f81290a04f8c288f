use proptest::prelude::*;

use super::*;

/// Pushes `chunks` through one framer and returns every frame it produced, `finish` included,
/// plus the number of frames `size_hint` announced in total.
fn frame_all(chunks: &[Vec<u8>]) -> (Vec<[u8; FRAME_BYTES]>, usize) {
    let mut framer = Framer::new();
    let mut res = Vec::new();
    let mut n_announced = 0;
    for chunk in chunks {
        let frames = framer.push(chunk);
        n_announced += frames.len();
        res.extend(frames.copied());
        assert!(framer.pending_len() < FRAME_BYTES);
    }
    if let Some(last) = framer.finish() {
        n_announced += 1;
        res.push(last);
    }
    assert_eq!(framer.pending_len(), 0);
    (res, n_announced)
}

fn padded(input: &[u8]) -> Vec<u8> {
    let mut res = input.to_vec();
    let n_pad = (FRAME_BYTES - input.len() % FRAME_BYTES) % FRAME_BYTES;
    res.extend(std::iter::repeat_n(MULAW_SILENCE, n_pad));
    res
}

/// Bytes that are never 0xFF, so padding is distinguishable from data.
fn numbered(len: usize) -> Vec<u8> {
    (0..len).map(|idx| (idx % 251) as u8).collect()
}

#[track_caller]
fn check(chunk_lens: &[usize], expected_n_frames: usize) {
    let total: usize = chunk_lens.iter().sum();
    let input = numbered(total);
    let mut chunks = Vec::new();
    let mut offset = 0;
    for &len in chunk_lens {
        chunks.push(input[offset..offset + len].to_vec());
        offset += len;
    }
    let (frames, n_announced) = frame_all(&chunks);
    assert_eq!(frames.len(), expected_n_frames);
    assert_eq!(n_announced, expected_n_frames);
    assert_eq!(frames.concat(), padded(&input));
}

#[test]
fn empty_stream_yields_nothing() {
    check(&[], 0);
    check(&[0, 0], 0);
}

#[test]
fn exact_frames_pass_through_without_padding() {
    check(&[160], 1);
    check(&[320, 160], 3);
}

#[test]
fn short_last_frame_is_padded_with_silence() {
    check(&[1], 1);
    check(&[159], 1);
    check(&[161], 2);
}

#[test]
fn frame_split_across_many_pushes() {
    check(&[100, 30, 29, 1], 1);
    check(&[1; 481], 4);
    check(&[159, 2, 159], 2);
}

#[test]
fn completed_frame_and_in_place_frames_in_one_push() {
    // 50 pending + 110 completes one, then 2 whole frames in place, then 7 left over.
    check(&[50, 110 + 320 + 7], 4);
}

#[test]
fn tail_bytes_stay_pending_until_the_next_push() {
    let mut framer = Framer::new();
    assert_eq!(framer.push(&[1; 100]).count(), 0);
    assert_eq!(framer.pending_len(), 100);
    let frames: Vec<[u8; FRAME_BYTES]> = framer.push(&[2; 100]).copied().collect();
    assert_eq!(frames.len(), 1);
    assert_eq!(&frames[0][..100], &[1; 100][..]);
    assert_eq!(&frames[0][100..], &[2; 60][..]);
    assert_eq!(framer.pending_len(), 40);
}

#[test]
fn dropping_frames_unread_keeps_the_tail() {
    let mut framer = Framer::new();
    let input = numbered(170);
    {
        let frames = framer.push(&input);
        assert_eq!(frames.len(), 1);
    }
    assert_eq!(framer.pending_len(), 10);
    let last = framer.finish().unwrap();
    assert_eq!(&last[..10], &input[160..]);
    assert!(last[10..].iter().all(|&byte| byte == MULAW_SILENCE));
}

#[test]
fn clear_drops_the_partial_frame() {
    let mut framer = Framer::new();
    assert_eq!(framer.push(&[9; 70]).count(), 0);
    framer.clear();
    assert_eq!(framer.pending_len(), 0);
    assert_eq!(framer.finish(), None);
    let frames: Vec<[u8; FRAME_BYTES]> = framer.push(&[3; 160]).copied().collect();
    assert_eq!(frames, vec![[3; FRAME_BYTES]]);
}

#[test]
fn framer_is_reusable_after_finish() {
    let mut framer = Framer::new();
    assert_eq!(framer.push(&[5; 10]).count(), 0);
    assert!(framer.finish().is_some());
    assert_eq!(framer.push(&[6; 150]).count(), 0);
    let last = framer.finish().unwrap();
    assert_eq!(&last[..150], &[6; 150][..]);
    assert_eq!(&last[150..], &[MULAW_SILENCE; 10][..]);
}

proptest! {
    #[test]
    fn concatenated_frames_equal_input_plus_padding(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..500), 0..20)
    ) {
        let (frames, n_announced) = frame_all(&chunks);
        let input = chunks.concat();
        prop_assert_eq!(frames.len(), input.len().div_ceil(FRAME_BYTES));
        prop_assert_eq!(n_announced, frames.len());
        prop_assert_eq!(frames.concat(), padded(&input));
    }
}
