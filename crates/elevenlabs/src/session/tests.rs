use super::unvoiced_rest;

#[test]
fn unvoiced_rest_rolls_back_to_a_word_start() {
    let text = "Your car will be ready. ";
    let cases = [
        (0, "Your car will be ready. "),
        (4, "car will be ready. "), // cut on the space after "Your"
        (5, "car will be ready. "), // cut right at a word start
        (11, "will be ready. "),    // "Your car wi|ll": the cut word is said again
        (2, "Your car will be ready. "),
        (23, ""), // only the final space is left
        (24, ""),
        (100, ""),
    ];
    for (n_voiced, want) in cases {
        assert_eq!(unvoiced_rest(text, n_voiced), want, "n_voiced {n_voiced}");
    }
    // Counts are in characters, not bytes.
    assert_eq!(
        unvoiced_rest("Ça coûte déjà trop. ", 6),
        "coûte déjà trop. "
    );
    assert_eq!(unvoiced_rest("Ça coûte déjà trop. ", 9), "déjà trop. ");
}
