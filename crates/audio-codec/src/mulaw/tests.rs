use super::*;

/// The decode algorithm of docs/protocols.md section 9.2, written out independently of the library.
fn reference_decode(byte: u8) -> i16 {
    let inverted = !byte;
    let mut magnitude = ((i32::from(inverted & 0x0F)) << 3) + 0x84;
    magnitude <<= (inverted & 0x70) >> 4;
    let linear = if inverted & 0x80 != 0 {
        0x84 - magnitude
    } else {
        magnitude - 0x84
    };
    i16::try_from(linear).unwrap()
}

fn decode_all_codes() -> Vec<i16> {
    let codes: Vec<u8> = (0..=u8::MAX).collect();
    let mut res = Vec::new();
    decode_mulaw(&codes, &mut res);
    res
}

#[test]
fn decode_matches_the_reference_algorithm_for_all_256_codes() {
    let decoded = decode_all_codes();
    assert_eq!(decoded.len(), 256);
    for (byte, &linear) in (0..=u8::MAX).zip(&decoded) {
        assert_eq!(linear, reference_decode(byte), "byte {byte:#04x}");
        assert_eq!(decode_mulaw_sample(byte), linear, "byte {byte:#04x}");
    }
}

#[test]
fn decode_vectors_from_protocols_section_9_2() {
    let vectors: [(u8, i16); 17] = [
        (0x00, -32124),
        (0x01, -31100),
        (0x0F, -16764),
        (0x10, -15996),
        (0x20, -7932),
        (0x40, -1884),
        (0x70, -120),
        (0x7E, -8),
        (0x7F, 0),
        (0x80, 32124),
        (0x8F, 16764),
        (0xA0, 7932),
        (0xC0, 1884),
        (0xE0, 372),
        (0xF0, 120),
        (0xFE, 8),
        (0xFF, 0),
    ];
    let decoded = decode_all_codes();
    for (byte, expected) in vectors {
        assert_eq!(decoded[usize::from(byte)], expected, "byte {byte:#04x}");
    }
}

#[test]
fn encode_vectors_where_all_three_variants_agree() {
    let vectors: [(i16, u8); 42] = [
        (0, 0xFF),
        (1, 0xFF),
        (2, 0xFF),
        (3, 0xFF),
        (4, 0xFE),
        (7, 0xFE),
        (8, 0xFE),
        (30, 0xFB),
        (31, 0xFB),
        (32, 0xFB),
        (100, 0xF2),
        (255, 0xE7),
        (256, 0xE7),
        (1000, 0xCE),
        (1234, 0xCA),
        (4096, 0xAF),
        (8000, 0xA0),
        (8159, 0x9F),
        (16000, 0x90),
        (30000, 0x82),
        (32000, 0x80),
        (32124, 0x80),
        (32635, 0x80),
        (32767, 0x80),
        (-7, 0x7E),
        (-8, 0x7E),
        (-31, 0x7B),
        (-32, 0x7B),
        (-255, 0x67),
        (-256, 0x67),
        (-1000, 0x4E),
        (-1234, 0x4A),
        (-4096, 0x2F),
        (-8000, 0x20),
        (-8159, 0x1F),
        (-16000, 0x10),
        (-30000, 0x02),
        (-32000, 0x00),
        (-32124, 0x00),
        (-32635, 0x00),
        (-32767, 0x00),
        (-32768, 0x00),
    ];
    let linear: Vec<i16> = vectors.iter().map(|&(linear, _)| linear).collect();
    let mut encoded = Vec::new();
    encode_mulaw(&linear, &mut encoded);
    for (&(input, expected), &got) in vectors.iter().zip(&encoded) {
        assert_eq!(got, expected, "input {input}: got {got:#04x}");
        assert_eq!(encode_mulaw_sample(input), expected, "input {input}");
    }
}

/// audio-codec-algorithms implements ITU G.191 `ulaw_compress`: on the inputs where the
/// variants disagree (docs/protocols.md section 9.3) it must give the ITU column.
#[test]
fn encoder_is_the_itu_g191_variant_on_disagreeing_inputs() {
    // (input, audioop, classic 16-bit, ITU G.191)
    let disagreements: [(i16, u8, u8, u8); 7] = [
        (-1, 0x7E, 0x7F, 0x7F),
        (-2, 0x7E, 0x7F, 0x7F),
        (-3, 0x7E, 0x7F, 0x7F),
        (-4, 0x7E, 0x7E, 0x7F),
        (-33, 0x7A, 0x7B, 0x7B),
        (-100, 0x72, 0x72, 0x73),
        (-31612, 0x00, 0x00, 0x01),
    ];
    for (input, _audioop, _classic, itu) in disagreements {
        assert_eq!(encode_mulaw_sample(input), itu, "input {input}");
    }
}

#[test]
fn every_code_round_trips_except_negative_zero() {
    let decoded = decode_all_codes();
    let mut reencoded = Vec::new();
    encode_mulaw(&decoded, &mut reencoded);
    for (byte, &got) in (0..=u8::MAX).zip(&reencoded) {
        let expected = if byte == 0x7F { MULAW_SILENCE } else { byte };
        assert_eq!(got, expected, "byte {byte:#04x}");
    }
}

#[test]
fn decode_is_odd_symmetric() {
    let decoded = decode_all_codes();
    for byte in 0..=u8::MAX {
        assert_eq!(
            decoded[usize::from(byte ^ 0x80)],
            -decoded[usize::from(byte)],
            "byte {byte:#04x}"
        );
    }
}

#[test]
fn decode_of_encode_is_non_decreasing_over_all_i16() {
    let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    let mut encoded = Vec::new();
    encode_mulaw(&all, &mut encoded);
    let mut decoded = Vec::new();
    decode_mulaw(&encoded, &mut decoded);
    assert_eq!(decoded.len(), 65536);
    for (idx, pair) in decoded.windows(2).enumerate() {
        assert!(
            pair[0] <= pair[1],
            "decode(encode(x)) decreases at x = {}",
            all[idx + 1]
        );
    }
    // Quantization error is bounded by half the largest step (1024) plus the clip margin.
    for (&input, &output) in all.iter().zip(&decoded) {
        let error = (i32::from(input) - i32::from(output)).abs();
        assert!(error <= 1024, "input {input} decoded back as {output}");
    }
}

#[test]
fn silence_constant_decodes_to_zero_and_zero_encodes_to_it() {
    assert_eq!(decode_mulaw_sample(MULAW_SILENCE), 0);
    assert_eq!(encode_mulaw_sample(0), MULAW_SILENCE);
}

#[test]
fn frame_constants_agree() {
    let samples_per_frame = u128::from(SAMPLE_RATE_HZ) * FRAME_DURATION.as_millis() / 1000;
    assert_eq!(usize::try_from(samples_per_frame).unwrap(), FRAME_BYTES);
}

#[test]
fn slice_functions_append_rather_than_overwrite() {
    let mut decoded = vec![7_i16];
    decode_mulaw(&[0xFF, 0x80], &mut decoded);
    assert_eq!(decoded, [7, 0, 32124]);
    let mut encoded = vec![0xAB_u8];
    encode_mulaw(&[0, 32767], &mut encoded);
    assert_eq!(encoded, [0xAB, 0xFF, 0x80]);
}
