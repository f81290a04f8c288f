//! `ConversationManager`: one call's state machine.

use std::sync::Arc;

use chrono::{DateTime, NaiveTime, Utc};

use crate::customer::{AppointmentInfo, CustomerProfile, VehicleInfo};
use crate::detect::{self, Answer, Heard};
use crate::learned;
use crate::shop::{OpeningHours, ShopConfig};
use crate::text::normalize;
use crate::types::{
    CallType, ConversationSummary, EscalationReason, Intent, SlotName, Slots, State, ToolResult,
    Transition,
};
use crate::when;

/// Caller turns in a row without progress (in intent detection, slot collection or
/// confirmation) that hand the call to a person.
const MAX_TURNS_WITHOUT_PROGRESS: u32 = 3;

/// Words after which a second day named is the one wanted ("move it from friday to monday").
static SWITCH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(to|instead of|could we do|can we do|how about|what about|anymore|no more|rather than|swap to|switch to|make it|fit (me|it|her|him|us) in|change (it )?for|what do you have|no|actually|i mean|so|but|would|could|rather|lets try|closed|lets say|er)\b",
    )
});

/// A day or time the caller is moving away from: after "instead of", "rather than", "cant make
/// (my)", "had", "booked for", "my appointment at", "trade my", or before "isnt gonna work". It
/// is blanked before the day and time asked for are read, when what is left still names one
/// ("instead of tomorrow at 8, monday": monday; "cancel my appointment for tomorrow": tomorrow).
static OLD_WHEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    let token = r"(?:tomorrows?|today|tonight|this (?:morning|afternoon|evening)|(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?|(?:the )?\d{1,2}(?:st|nd|rd|th)|(?:january|february|march|april|may|june|july|august|september|october|november|december) (?:the )?\d{1,2}(?:st|nd|rd|th)?|(?:quarter|half) (?:after|past|to|till|of) \d{1,2}|\d{1,2} (?:after|past) \d{1,2}|\d{1,2}(?: \d{2})?(?: ?(?:am|pm|a m|p m|oclock|o clock))?|noon|morning|afternoon|evening)";
    let phrase = format!(
        r"(?:(?:the|a|my|your|our|that|this|next|coming) )*{token}(?: (?:at |on |around |in the )?(?:the |my )?{token}){{0,3}}(?: (?:slot|appointment|1|spot|time|thing))?"
    );
    crate::text::ascii_regex(&format!(
        r"\b(?:(?:instead of|rather than|in place of|scratch|forget(?: about)?|(?:cant|cannot|can not|wont|couldnt|will not) (?:make|do|come)(?: it)?(?: in)?(?: on| at| for)?(?: my| the)?|(?:trade|swap|switch|change|move|push|bump|slide) (?:my|the|our)|had(?: it| 1| an appointment| a spot| booked)?(?: for| on| at)?|i (?:have|got) (?:a|an|my)|i booked(?: it| me)?(?: for| on| at)?|booked(?: it| me| in)?(?: for| on| at)|(?:my )?appointments? (?:is |was )?(?:for|at|on)|supposed to (?:be|go in|come in|come|bring it in|drop it off)(?: on| at| for)?|i think it was(?: at| for)|(?:back|home|away|gone|around) (?:till|until|til)) {phrase}|{phrase} (?:isnt|is not|wont|doesnt|does not|aint|is no longer)(?: gonna| going to)? (?:work|do|happen|happening))\b"
    ))
});

/// A time corrected as it is said, or moved from one to another: the time after the last of
/// these is the one meant ("9 no wait 10", "10 no actually make that 11", "from 2 oclock to 4").
static TIME_CORRECTION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(no wait|wait|no actually|actually|i mean|no sorry|sorry|make (it|that)|or rather|no|from [\w ]{1,40}? to|(bump|move|push|change|switch) (it|that|me|us)( up| back| out)? to|(a )?(later|earlier) time( like)?|(later|earlier) like|but i asked for)\b",
    )
});

/// Whether a "from ... to" correction match is a range of times the caller could come in
/// ("fit me in tomorrow from like 10 to 11": 10, its start) rather than a move from one time to
/// another ("push me from 10 to 2": 2): a move names its verb before it.
fn is_range_not_move(text: &str, found: &regex::Match<'_>) -> bool {
    found.as_str().starts_with("from ") && !MOVE_BEFORE_FROM.is_match(&text[..found.start()])
}

/// A move verb with what it moves, close before a "from ... to" ("change my appointment time
/// from", "push me from", "reschedule please from"); an "oil change" or a "bumper" is none.
static MOVE_BEFORE_FROM: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b((chang(e|ed|ing)|mov(e|ed|ing)|push(ed|ing)?|switch(ed|ing)?|bump(ed|ing)?|swap(ped|ping)?|shift(ed|ing)?|slid(e|ing)) (it|me|us|that|this|my|the|our)\b[\w ]{0,40}|reschedul\w*\b[\w ]{0,40})$",
    )
});

/// A question about what a service includes ("what does a tire rotation include", "what comes
/// with the ac service", "does the ac service include the freon", "whats included in the
/// inspection"; not "do you want me to come with the car").
static WHAT_IT_INCLUDES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(what (all )?(does|do|did|would|will) [\w ]{1,40}\b(include|come with)|what (all )?(is|comes) (included|with)|whats included|what all is (in|included)|(does|do|would|will) [\w ]{1,40}\binclude)\b",
    )
});

/// Words that ask for something, the last of which before "instead" opens the clause that
/// names what is wanted ("i got an appointment tomorrow at 8 but something came up, can i do
/// saturday at 9 instead": "can i").
static ASKS_INSTEAD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b((can|could|would|will|may) (i|we|you|yall|ya|it|that)|any (way|chance)|lets|put (me|us)|make (it|that)|how about|what about)\b",
    )
});

/// The clock time asked for in the clause that asks for something "instead" (not "instead
/// of"), and where that clause starts: from the last word that asks before it up to "instead"
/// ("i was gonna come today at 2 but could i come at 4 instead": 4), else to the end of the
/// text ("can we do friday instead at like 3": 3). The time said before that clause is the one
/// being given up, whether or not it was said as such ("im on for 12 today", "our diagnostic
/// is friday at 9"). A clause that asks for a call ("could you call me back at 2 instead")
/// names no time to come.
fn time_asked_instead(text: &str, hours: OpeningHours) -> Option<(usize, when::TimeMention)> {
    let instead = text
        .match_indices("instead")
        .filter(|(at, word)| {
            let end = at + word.len();
            let after = &text[end..];
            !(after == " of" || after.starts_with(" of "))
                && text[..*at].chars().last().is_none_or(|c| c == ' ')
                && after.chars().next().is_none_or(|c| c == ' ')
        })
        .map(|(at, word)| (at, at + word.len()))
        .last();
    let (at, end) = instead?;
    let asks = ASKS_INSTEAD.find_iter(&text[..at]).last()?.start();
    // "could you call me back at 2 instead": a time to call, not one to come.
    if text[asks..at].split(' ').any(|word| word == "call") {
        return None;
    }
    let clock = |clause: &str| when::find_time(clause, hours).filter(|time| time.time.is_some());
    clock(&text[asks..end])
        .or_else(|| clock(&text[asks..]))
        .map(|time| (asks, time))
}

/// A move of the appointment by a span of time ("push it back an hour", "move it up half an
/// hour", "2 hours later"): the span and whether it is later.
static SHIFT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(?:push|move|bump|slide)\b[\w ]{0,40}?\b(?P<way>back|up)(?: by)? (?P<span>an hour|a hour|half an hour|\d hours?|\d{1,2} minutes)\b|\b(?P<span2>an hour|half an hour|\d hours?|\d{1,2} minutes) (?P<way2>later|earlier|sooner)\b",
    )
});

/// A new time named after the move ("back an hour to 11 30", "so 3"): it is the time asked for
/// as said.
static NAMED_AFTER_SHIFT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(r"\b(?:to|so|make it|like|say) (?:\d|noon)")
});

/// The time asked for when the caller moves the time said by a span ("push my appointment back
/// an hour, it was at 2": 15:00; "i got 10 15 tomorrow, can we move it up half an hour": 9:45),
/// unless a new time is named after the move or the move would cross midnight.
fn shifted(text: &str, time: when::TimeMention) -> when::TimeMention {
    let Some(clock) = time.time else {
        return time;
    };
    // Every span `SHIFT` reads has " hour" or " minutes" in it: most texts with a time have
    // neither, and skip its search (this runs on each of them).
    if !(text.contains(" hour") || text.contains(" minutes")) {
        return time;
    }
    let Some(shift) = SHIFT.captures(text) else {
        return time;
    };
    let after = shift.get(0).map_or(text.len(), |m| m.end());
    if NAMED_AFTER_SHIFT.is_match(&text[after..]) {
        return time;
    }
    let (Some(way), Some(span)) = (
        shift.name("way").or(shift.name("way2")),
        shift.name("span").or(shift.name("span2")),
    ) else {
        return time;
    };
    let span = span.as_str();
    let minutes: i64 = match span {
        "an hour" | "a hour" => 60,
        "half an hour" => 30,
        _ => {
            let (count, unit) = span.split_once(' ').unwrap_or((span, ""));
            let count: i64 = count.parse().unwrap_or(0);
            if unit.starts_with("hour") {
                count * 60
            } else {
                count
            }
        }
    };
    let later = matches!(way.as_str(), "back" | "later");
    let delta = chrono::Duration::minutes(if later { minutes } else { -minutes });
    let (moved, wrapped) = clock.overflowing_add_signed(delta);
    if minutes == 0 || wrapped != 0 {
        return time;
    }
    when::TimeMention {
        heard: format!(
            "{span} {} {}",
            if later { "after" } else { "before" },
            time.heard
        ),
        time: Some(moved),
        period: time.period,
    }
}

/// Signals for the learned model (`learned.rs`) besides `detect::signals`' detector bits: the
/// line escalates; it names a catalog service, names a day or time, tells of an old visit. A
/// line that escalates is read before its slots, so it gets only the first (and the detector
/// bits); training lines are first turns, so "names a day or time" is one named in the line.
pub(crate) const ESCALATES: u16 = 1 << detect::FIRST_FREE_SIGNAL;
pub(crate) const NAMES_A_SERVICE: u16 = ESCALATES << 1;
pub(crate) const NAMES_A_DAY_OR_TIME: u16 = ESCALATES << 2;
pub(crate) const TOLD_AS_A_STORY: u16 = ESCALATES << 3;

/// A bare hour opening `text` ("10 i got a dentist thing"), not a count ("2 tires").
fn leading_hour(text: &str, hours: OpeningHours) -> Option<when::TimeMention> {
    let mut words = text.split_whitespace();
    let first = words.next()?;
    if first.len() > 2 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let counted = words.next().is_some_and(|next| {
        next.bytes().all(|b| b.is_ascii_digit())
            || [
                // "one second" is "1 2nd" once normalised.
                "minutes", "minute", "seconds", "2nd", "sec", "hours", "hour", "days", "day",
                "weeks", "dollars", "bucks", "tires", "cars", "of", "hundred", "thousand",
            ]
            .contains(&next)
    });
    if counted {
        return None;
    }
    when::find_bare_hour(first, hours)
}

/// The time of the appointment being moved, kept ("the same time on monday").
static SAME_TIME: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| crate::text::ascii_regex(r"\b(same time)\b"));

/// Taking a day or time that was offered.
static ACCEPTS_A_TIME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(works( for me)?|sounds (good|great|fine|perfect)|(is|are) (good|fine|better|perfect|great) for me|is (good|fine|better|perfect|great)$|see you)\b",
    )
});

/// A clock time that is no time asked for: of the caller's own day ("i work till 6", "my shift
/// ends at 5 30", "my shift is 7 to 3 30", "i start work at 9", "i got court at 9", "im in court
/// at 9 tomorrow", "i got a meeting at 11", "i pick my kids up from school at 2 45", "she
/// catches the bus at 8", "the bank closes at 2"), of someone else's ("my lawyer wants to meet
/// at 11", "the last shop took till 6", "i keep getting told call back at 2"), or in the past
/// ("nobody answered yesterday at 5", "around 8 30 last night", "at 4 oclock last week",
/// "promised it by 3 yesterday"; between "yesterday" and the time only a part of the day or a
/// filler, so "i missed it yesterday so today at 3" keeps 3; so does "the same time as last
/// week at 10"). "i need the car to pick up the kids at 3, is it done by then" keeps 3: only
/// "i", "we", "he" or "she" picking children up is their day. It is left out
/// before the time asked for is read (also the bare hour read when a time is the slot asked
/// for: "i got class at 10" answers nothing), so a time after it still is ("i work till 5 30, will you still be open if i get there
/// at 6": 6). Times the shop said or keeps ("you said itd be ready by 3", "are you open at 8",
/// "if i get off at 5 30 will anybody be there") are the time the caller asks about, as the
/// labelled set has them. A time before "yesterday" is left in: "could i come by at 3 yesterday
/// someone told me the part came in" runs two sentences together.
static NOT_ASKED_TIME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    let time = r"(?:\d{1,2}(?::\d{2}| \d{2})?(?: ?(?:am|pm|a m|p m|oclock|o clock))?|noon|midnight)(?: in the (?:morning|afternoon|evening))?";
    let day = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?";
    crate::text::ascii_regex(&format!(
        r"\b(?:(?:i|we) (?:work|am working)|im working|(?:i|we|he|she) (?:start|starts) work|(?:my |his |her )?shift (?:ends|is over|dont end|doesnt end|does not end|starts|is|is from)|(?:the )?bank (?:closes|opens)|(?:(?:my|our) (?:work|class|school|practice)|court|class|practice|school) (?:starts|ends|lets out|gets out)|(?:got|have|had) (?:court|class|practice|school|work)|(?:im|i am) (?:at work|stuck at work)|(?:im|i am|hes|he is|shes|she is) in court|(?:got|have|had|has) a (?:meeting|doctors appointment|doctor appointment|dentist appointment|hair appointment|recital|game|practice|class|shift|flight|train|interview|funeral|wedding)|my (?:train|bus|flight|plane|ferry) (?:is|leaves|departs|boards)|(?:i|we) (?:have|got|had) a meeting (?:with|for) (?:my|our)(?: \w+){{1,3}}?(?: is)?|(?:my|our) \w+ meeting (?:with|for) (?:my|the|our)(?: \w+){{1,3}}?(?: is)?|appointment with (?:my|our) (?:doctor|dentist|lawyer|attorney|divorce lawyer|accountant)(?: is)?|(?:gotta|got to) (?:get|grab|pick up) (?:my|our|the) (?:kid|kids|son|daughter|grandkids?|boy|girl)(?: up)?(?: from (?:school|daycare|practice))?|(?:kid|kids|son|daughter|boy|girl) (?:gets?|got) out|back at (?:the site|work|the office|the job|my job)|(?:he|she|they|my \w+) wants? to meet|(?:i|we|he|she) (?:pick|picks) (?:up )?(?:my|our|the) (?:kids?|son|daughter|grandkids?|boy|girl)(?: up)?(?: from (?:school|daycare|practice))?|(?:catch|catches|take|takes) the bus|drops? (?:my|our|the) (?:son|daughter|kids?)(?: off)? at school|gets? out of (?:practice|school|class)|took|(?:told|getting told|get told|keep getting told)(?: me| us)?(?: to)? call(?: you)? back)(?: (?:today|tomorrow|tonight|{day}))?(?: (?:at|till|until|til|around|by|about|from))? {time}(?: (?:to|till|until) {time})?\b|\b{time} last (?:night|week|{day})\b|\b(?:got|have|had|has) (?:a|my) {time} (?:meeting|class|flight|train|bus|call|shift|appointment at work|interview)\b|\b(?:you|yall|you guys|somebody|someone|he|she|they|the guy|the lady) (?:called|texted|emailed|left me a (?:voicemail|message)|left a (?:voicemail|message))(?: me)?(?: (?:at|around))(?: like)? {time}\b|\b(?:came on|went off|started|happened|died|quit on me|called|texted|dropped it off|left it)(?: (?:again|already|just|on the highway))?(?: (?:at|around|about))(?: like)? {time} this morning\b|\bput (?:the|my) keys (?:in|through) (?:the|your) (?:box|slot|drop box) (?:at|around|about)(?: like)? {time}\b|\bby {time} yesterday\b|\b(?:i|we) (?:was|were|drove|came|went|stopped|got)(?: (?:there|in|here|over|by|over there))? (?:at|around|about) {time} yesterday\b|\b(?:website|site|google|sign)(?: \w+)? (?:says|said|say|shows|show)(?: (?:you|yall|you guys|youre|you are|the shop))?(?: (?:are|guys))? (?:open|opens|close|closes|closed)(?: (?:at|till|until|til))? {time}(?: (?:to|till|until) {time})?|\bhours (?:say|says|said|show|shows) {time}(?: (?:to|till|until) {time})?|\b(?:yesterday|last night|last (?:week|{day}))(?: (?:morning|afternoon|evening|right|like|just|only))? (?:at|around|about|by|like) {time}\b|\b(?:catch|catches|make|take|takes) the {time} (?:bus|train|ferry|flight|shuttle)\b|\b(?:dropped|brought|left|towed)(?: (?:it|her|him|the \w+|my \w+))?(?: off| in)? (?:this morning|earlier|yesterday|last night)(?: (?:at|around|about|like|by))+ {time}|\b(?:how late|whats the latest|latest i can|what time (?:do|does) (?:you|yall|you guys|the shop) close)\b[a-z ]{{0,60}}\b(?:i|we|he|she) (?:dont |do not |doesnt )?(?:get|gets|am|is) off(?: work)? (?:at|till|until|til) {time}|\b(?:i|we) (?:dont |do not )?(?:get|am) off(?: work)? (?:at|till|until|til) {time}\b[a-z ]{{0,40}}\b(?:how late|whats the latest|what time (?:do|does) (?:you|yall|you guys|the shop) close)|\b(?:wont|doesnt|dont|will not|does not) let (?:me|us|him|her) (?:leave|go|out|off)(?: work| early)? (?:before|till|until|til) {time}|\bunless (?:i|we) hear (?:back )?from (?:somebody|someone|you|anyone|anybody|yall|you guys)(?: (?:by|before))? {time}|\b(?:at|around|about) {time} and (?:your|the) (?:doors?|shop|place|gate|lights) (?:was|were) (?:already )?(?:locked|closed|shut|off)\b|\bhow much (?:is it |would it be |for them )?for {time}\b|\b(?:busy|working|work|showing \w+|in meetings|tied up|on call|at work|stuck|in court|on the road|on site)(?: \w+){{0,2}}? all day(?: (?:today|tomorrow|{day}))? from {time} (?:to|till|until) {time}"
    ))
});

/// `text` with `NOT_ASKED_TIME` blanked. Every match of it has a clock time in it: a digit,
/// "noon" or "midnight"; a text with none is not searched.
fn not_asked_time_left_out(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_digit())
        || text.contains("noon")
        || text.contains("midnight")
    {
        // "the same time as last week at 10": a past time asked for again.
        NOT_ASKED_TIME.replace_all(text, |caps: &regex::Captures<'_>| {
            let found = caps.get(0).map_or(0..0, |m| m.range());
            let before = &text[..found.start];
            if [
                "as ",
                "same ",
                "same time ",
                "same slot ",
                "same appointment ",
            ]
            .iter()
            .any(|asked_again| before.ends_with(asked_again))
            {
                text[found].to_owned()
            } else {
                " ".to_owned()
            }
        })
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A day named after "since" is in the past, not a day asked for; so is a time said with a past
/// day ("last thursday at 9", "i was there friday at 10").
static SINCE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\bsince (like |about |around )?(last )?\w+|\b(last|this past) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b( (morning|afternoon|evening|night))?( (at|around|about|by) \d{1,2}( \d\d)?( am| pm| oclock)?\b)?|\b(brought|dropped|left|towed|took) (in|off) (it|her|him|the \w+|my \w+|my \w+ \w+)( \w+)? on (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(left|dropped) (my|the) keys\b[\w ]{0,30}\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(dropped|brought|left|towed) (it|her|him|the \w+|my \w+)( off| in)? this morning( at| around| about| like| by)+ \d{1,2}( \d\d)?( am| pm| oclock)?\b|\b(dropped|brought|left|towed)\b[\w ]{0,40}\bthis morning\b|\b(called|yelled|texted|emailed)( (you|yall|here|twice|again|\d+ times|at (my|the) \w+( in the car)?))? this morning\b|\b(been waiting|waited) (since \d{1,2}( \d\d)? )?this morning\b|\b(spoke|talked) (with|to)\b[\w ]{0,20}\bthis morning\b|\bwas the [\w ]{0,40}\bthis morning\b|\b(brought|dropped|left|towed|took|picked) (it|her|him|the \w+|my \w+)( off| in| up)? on (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(dropped|brought|towed) (it|her|him|the \w+|my \w+|my \w+ \w+|the little \w+ \w+)( back)?( off| in| over)?( for (the )?\w+( \w+)?)? (on |last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(i was|we were) (in|there)( for (the )?\w+( \w+)?)? (on |last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday|the \d{1,2}(st|nd|rd|th))\b( (at|around|about) \d{1,2}( \d\d)?( am| pm| oclock)?\b)?|\b(it was|was it) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(came on|started|began|happened|broke down|died|quit) ((on |last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)|this morning|last night)\b|\bbefore (\w+ ){1,6}on the \d{1,2}(st|nd|rd|th)\b|\bcall (me|us) back (today|tomorrow|tonight)\b|\b(dropped|brought|left|towed) (it|her|him|the \w+|my \w+)( off| in)? at (like |around |about )?\d{1,2}( \d\d)?( am| pm)?\b|\b(dropped|brought|left|towed) (off|in) (it|her|him|the \w+|my \w+) at (like |around |about )?\d{1,2}( \d\d)?( am| pm)?\b|\b(promised|said|told|was|were)( me| us)? (noon|\d{1,2}( \d\d)?( am| pm| oclock)?) yesterday\b|\byesterday (by|at|around) \d{1,2}( \d\d)?\b|\bwasted my (whole |entire )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\bcalled( you| yall)? (at|around|about) \d{1,2}( \d\d)?( am| pm)?\b|\b(any day )?(but|except)( not)? (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\bany day (but|except)( not)? the \d{1,2}(st|nd|rd|th)\b|\bif (i|we|he|she|they|my \w+) (dropped|brought|left|took|towed)\b|\b((i|we|he|she|they|you|yall|guys|my \w+|my \w+ \w+|had (it|her|him|them))( already| just)? (dropped|brought|left|towed)( (it|her|him|them|the \w+|my \w+|the \w+ \w+|my \w+ \w+|my \w+s \w+))?|took (it|her|him|them|the \w+|my \w+|the \w+ \w+|my \w+ \w+|my \w+s \w+))( back)? (in|off|there|over)( there| here)?( for (the )?\w+( \w+)?)? (on |last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(it|she|he|that|car|truck|van|suv|which) (came|was|were) in( for (the |a |an |new )?\w+( \w+)?)? (on |last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\bhad (a|an|the|my|his|her) \w+( \w+)? (put in|done|replaced|changed|installed)( on| last)? (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(estimate|quote|call|message|voicemail|visit) from (last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(and|but|because|cause|which) that was (last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\bthat was last (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\bcalled( you| here)? (yesterday|twice|\d+ times) and (on |last )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)( (about|too|also|as well|and|but|nobody|no 1|no one|still)\b|$)|\bits (already |now )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)( already| now)? and (nobody|no 1|no one|still|i still|i kinda|i need|i havent|i dont|its still|it still|my|the car|you|yall|you guys)\b|\bhow are (you|yall|ya) (doing )?today\b|\bthank(s| you) for (squeezing|fitting|getting) (me|us) in( on)? (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(\d+(st|nd|rd|th)|another) (call|time calling|time i called)( today)\b|\b(sticker|registration|inspection|plates?|tags?|warranty|lease) (expires|runs out|is due|ends)( on)? (the \d{1,2}(st|nd|rd|th)|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    )
});

/// Two days offered as a choice the caller leaves open ("wednesday or friday, either one",
/// "was it the first or the second"): no day is asked for yet, unless a later word settles it
/// ("monday or tuesday, actually monday is better").
static UNDECIDED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    let day = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|the \d{1,2}(st|nd|rd|th))";
    crate::text::ascii_regex(&format!(
        r"\b{day}( (at|around) \w+)? or (maybe |possibly |perhaps |was it |is it )?{day}\b"
    ))
});
static SETTLED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(actually|(is|are|would be|sounds) better|works best|lets (do|say|go with)|prefer|rather|go with|no wait|make it|how about|what about|instead|no good)\b",
    )
});

/// Two times offered as a choice the caller leaves open ("is it at 10 or 10 30", "for 7 45 or
/// 8 45", a line opening "9 or 9 30 either 1"): no time is asked for yet, unless a later word or
/// time settles it.
static UNDECIDED_TIME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    let time = r"\d{1,2}( \d\d)?( am| pm| oclock)?";
    crate::text::ascii_regex(&format!(
        r"(?:^|\b(?:at|for|around|about|like|between|it|was|is|could do|can do|could do either|can do either) ){time}( (today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday))? or (maybe |possibly |perhaps |is it |was it )?(at )?{time}\b(?P<after> \w+)?"
    ))
});

/// Where the open choice of a time ends, when the time the caller asks for is still an open
/// choice between two (`UNDECIDED_TIME`): not for a range of a unit ("2 or 3 days"), nor when a
/// later word or time settles it ("2 30 or 3 30 uh 2 30"), but still when "either" follows.
fn undecided_time(text: &str) -> Option<usize> {
    if !text.contains(" or ") {
        return None;
    }
    let choice = UNDECIDED_TIME.captures(text)?;
    // Opening the line, the choice is of times only when one has minutes or a marker ("9 or 9
    // 30 either 1"); "2 or 3 of them are leaking" counts.
    let whole = choice.get(0)?;
    if whole.start() == 0
        && !whole.as_str().split(' ').any(|word| {
            matches!(word, "am" | "pm" | "oclock")
                || (word.len() == 2 && word.bytes().all(|b| b.is_ascii_digit()) && word < "60")
        })
    {
        return None;
    }
    let after = choice.name("after");
    let unit = after.is_some_and(|word| when::RANGE_UNITS.contains(&word.as_str().trim_start()));
    // The word after the choice (a unit, or a settling word) belongs to what follows.
    let end = match after {
        Some(word) => word.start(),
        None => choice.get(0).map_or(text.len(), |m| m.end()),
    };
    let rest = &text[end..];
    let settled = !rest.contains("either")
        && (SETTLED.is_match(rest) || rest.bytes().any(|b| b.is_ascii_digit()));
    (!unit && !settled).then_some(end)
}

/// Where the open choice of a day ends, when the day the caller asks for is still an open
/// choice between two (`UNDECIDED`) that no later word settles.
fn undecided_day(text: &str) -> Option<usize> {
    if !text.contains(" or ") {
        return None;
    }
    UNDECIDED
        .find(text)
        .map(|choice| choice.end())
        .filter(|&end| !SETTLED.is_match(&text[end..]))
}

/// Whether something of a choice's kind is named after it, at `end` of `text`: for days
/// (`days`), a day, a clock time or a part of the day (`when::last_day_word`,
/// `when::last_clock_word`); for times, a clock time or a part of the day ("at 10 or 10 30 on
/// friday" leaves the time open).
fn named_after(text: &str, end: usize, days: bool) -> bool {
    let from_end = |at: Option<usize>| at.is_some_and(|at| at >= end);
    (days && from_end(when::last_day_word(text)))
        || from_end(when::last_clock_word(text))
        || text[end..]
            .split(' ')
            .any(|word| matches!(word, "morning" | "afternoon" | "evening" | "tonight"))
}

/// The shop's words in the form utterances are matched in: catalog phrases by their first word
/// (longest first, with the service index) and holiday names. Built once per shop: every call's
/// manager shares one copy, which stays in the CPU's caches.
#[derive(Debug)]
struct ShopWords {
    catalog: rustc_hash::FxHashMap<String, Vec<(String, usize)>>,
    /// The normalised name without "day", and the date.
    holidays: Vec<(String, chrono::NaiveDate)>,
}

/// `ShopWords` by shop. The `Weak` pins the shop against `Arc::get_mut`, so a cached shop cannot
/// change under its words; entries of dropped shops are pruned when a new shop is added.
static SHOP_WORDS: std::sync::LazyLock<std::sync::Mutex<Vec<CachedWords>>> =
    std::sync::LazyLock::new(Default::default);

/// One entry of `SHOP_WORDS`.
type CachedWords = (std::sync::Weak<ShopConfig>, Arc<ShopWords>);

impl ShopWords {
    fn of(shop: &Arc<ShopConfig>) -> Arc<ShopWords> {
        let mut cache = SHOP_WORDS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, words)) = cache
            .iter()
            .find(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(shop)))
        {
            return words.clone();
        }
        cache.retain(|(weak, _)| weak.strong_count() > 0);
        let words = Arc::new(ShopWords::build(shop));
        cache.push((Arc::downgrade(shop), words.clone()));
        words
    }

    fn build(shop: &ShopConfig) -> ShopWords {
        let mut catalog = rustc_hash::FxHashMap::<String, Vec<(String, usize)>>::default();
        for (idx, service) in shop.services.iter().enumerate() {
            for phrase in std::iter::once(&service.name).chain(&service.synonyms) {
                let phrase = normalize(phrase);
                if let Some(first_word) = phrase.split(' ').next().filter(|w| !w.is_empty()) {
                    catalog
                        .entry(first_word.to_owned())
                        .or_default()
                        .push((phrase.clone(), idx));
                }
            }
        }
        for phrases in catalog.values_mut() {
            phrases.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.len()));
        }
        let holidays = shop
            .holidays
            .iter()
            .map(|holiday| {
                let name = normalize(&holiday.name);
                let short = name.strip_suffix(" day").unwrap_or(&name).to_owned();
                (short, holiday.date)
            })
            .collect();
        ShopWords { catalog, holidays }
    }
}

/// Where the whole words `phrase` occur in `text` (single spaces): the text after them, without
/// the space that follows.
fn word_run_at<'t>(text: &'t str, phrase: &str) -> Option<&'t str> {
    let mut from = 0;
    while let Some(found) = text[from..].find(phrase) {
        let start = from + found;
        let end = start + phrase.len();
        let starts_word = start == 0 || text.as_bytes()[start - 1] == b' ';
        let ends_word = end == text.len() || text.as_bytes()[end] == b' ';
        if starts_word && ends_word {
            return Some(text.get(end + 1..).unwrap_or(""));
        }
        from = start + 1;
    }
    None
}

/// A holiday greeting ("have a good thanksgiving"): it names no day, and is blanked before
/// holidays are looked for.
static HOLIDAY_GREETING: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(good|great|happy|nice|wonderful|blessed|safe|merry) (thanksgiving|christmas|new years)\b",
    )
});

/// A holiday that only bounds a period: no day to resolve.
static HOLIDAY_PERIOD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(after|before|between|around|over) (the )?(thanksgiving|christmas|new years)\b",
    )
});

/// "the day after thanksgiving", "the day before new years", "the day after black friday": the
/// day named, moved by one.
fn day_after_or_before(text: &str, date: when::DateMention) -> when::DateMention {
    let before = |at: usize| {
        let before = text[..at].trim_end();
        before.strip_suffix(" black").unwrap_or(before)
    };
    // The mention with "day after" or "day before" in front, where there are several ("happy
    // thanksgiving, are you open the day after thanksgiving"), else the first.
    let shifted_at = text
        .match_indices(date.heard.as_str())
        .map(|(at, _)| at)
        .find(|&at| before(at).ends_with("day after") || before(at).ends_with("day before"));
    let Some(at) = shifted_at.or_else(|| text.find(&date.heard)) else {
        return date;
    };
    let before = before(at);
    let (which, shifted) = if before.ends_with("day after") {
        ("after", date.date.and_then(|day| day.succ_opt()))
    } else if before.ends_with("day before") {
        ("before", date.date.and_then(|day| day.pred_opt()))
    } else {
        return date;
    };
    when::DateMention {
        heard: format!("the day {which} {}", date.heard),
        date: shifted,
    }
}

/// Words that add a service to the ones already asked for rather than replace them.
static ADDING: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(r"\b(also|too|as well|while youre at it|plus|on top of that)\b")
});

/// Catalog words that name something other than the car's service: the caller's phone battery,
/// the noise of the kids in the background, snow drifts, "something else breaks". A catalog
/// phrase starting inside one of these is not a service.
static NOT_A_SERVICE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b((phone|cell|cellphone|laptop|remote|flashlight|hearing aid|watch) (battery|batteries)|battery (on|in) my (phone|cell)|(sorry|apologies) (about|for) (the|all the|that) (noise|noises|racket)|excuse (the|all the) (noise|racket)|background noise|snow drifts?|(something|everything|stuff) (else )?breaks|knock it off|brake lights? (bulbs?|is out|are out|out|not working|dont work|arent working)|(rear|back|3rd|tail|working|both) brake lights?|(after|since) (replacing|rotating) (the tires|them)|rotating (them|the tires) (myself|ourselves|at home))\b",
    )
});

/// Where in a text the phrases of `NOT_A_SERVICE` are, found once on first asking: most texts
/// name no catalog phrase, and one that names several is searched once, not once per phrase.
struct NotAService<'t> {
    text: &'t str,
    found: Option<Vec<std::ops::Range<usize>>>,
}

impl<'t> NotAService<'t> {
    fn new(text: &'t str) -> NotAService<'t> {
        NotAService { text, found: None }
    }

    /// Whether the catalog phrase found at byte `start` of the text is one of `NOT_A_SERVICE`.
    fn covers(&mut self, start: usize) -> bool {
        let text = self.text;
        self.found
            .get_or_insert_with(|| NOT_A_SERVICE.find_iter(text).map(|m| m.range()).collect())
            .iter()
            .any(|range| range.contains(&start))
    }
}

/// A service told as a story, not asked for: a past visit ("last time you guys did my
/// brakes"), a friend's car, a visit put off to next year. With no word of a request or of
/// a problem now (`REQUEST_CUE`) the services it names are no booking and no slot.
static NARRATION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(last time (i|we) (was|were|came|had)|you (guys |all )?did (my|the|a|his|her|our)|took (his|her|their) \w+ (to|in to) you|(back|earlier) in (january|february|march|april|may|june|july|august|september|october)|(buddy|friend|friends|neighbor|neighbors|brother|sister|cousin|coworker)s? (car|truck|van|suv)|(probably|might|maybe) (do|get) (the|my) [\w ]{1,20} in (january|february|march|april|the spring|the new year)|great ever since)\b",
    )
});
/// A word of a request, or of a problem the caller has now ("theyre grinding again").
static REQUEST_CUE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    crate::text::ascii_regex(
        r"\b(can|could|need|needs|want|wanna|like to|id like|get|book|schedule|come in|bring|set up|appointment|available|open|opening|room|squeeze|fit|look at|check|when|how|put me|sign me up|please|again|still|due|same as)\b",
    )
});

/// Whether the text tells of a service (`NARRATION`) without asking for anything (`REQUEST_CUE`).
fn told_as_a_story(text: &str) -> bool {
    NARRATION.is_match(text) && !REQUEST_CUE.is_match(text)
}

/// Silence timeouts in a row after which the call is closed.
const MAX_SILENCE_TIMEOUTS: u32 = 2;
/// Failed tool calls in one execution after which the call is handed to a person.
const MAX_TOOL_FAILURES: u32 = 2;

/// What an outbound call is about.
#[derive(Debug, Clone, PartialEq)]
pub enum CallSubject {
    /// The appointment we remind of, or follow up on.
    Appointment(AppointmentInfo),
    /// The vehicle that is due, and the canonical name of the service it is due for.
    ServiceDue {
        /// The vehicle on file.
        vehicle: VehicleInfo,
        /// Canonical catalog name, e.g. "oil change".
        service: String,
    },
}

/// One call's conversation: call type, state, intent, slots, escalation.
///
/// Feed it each final caller transcript with [`ConversationManager::process_message`] and
/// timer events with [`ConversationManager::on_silence_timeout`]; after a booking, cancel or
/// reschedule tool call, report the outcome with [`ConversationManager::record_tool_result`]
/// so the call moves from `execution` to `closing`. It never reads the clock: "now" is passed in.
#[derive(Debug, Clone)]
pub struct ConversationManager {
    pub(crate) call_type: CallType,
    pub(crate) caller_phone: Option<String>,
    pub(crate) shop: Arc<ShopConfig>,
    /// Normalised catalog phrases by their first word, longest first, with the service index.
    /// The shop's words, built once per shop and shared by every call's manager.
    vocabulary: Arc<ShopWords>,
    pub(crate) customer: Option<CustomerProfile>,
    pub(crate) subject: Option<CallSubject>,
    pub(crate) state: State,
    pub(crate) intent: Option<Intent>,
    /// A booking flow interrupted by a question; resumed after the answer.
    pub(crate) suspended_intent: Option<Intent>,
    pub(crate) slots: Slots,
    pub(crate) turn_count: u32,
    transitions: Vec<Transition>,
    /// Index into `transitions` where the current turn's started.
    turn_start: usize,
    /// The intent of the last recorded transition, to record intent-only changes.
    logged_intent: Option<Intent>,
    turns_without_progress: u32,
    pub(crate) silence_timeouts: u32,
    tool_failures: u32,
    /// A booking, reschedule or cancel already succeeded on this call; a later change must
    /// update it rather than book again.
    pub(crate) completed_action: bool,
    /// The caller said "no" to a read-back: wait for the correction before reading back again.
    awaiting_correction: bool,
    pub(crate) escalation_reason: Option<EscalationReason>,
    /// Which learned model a first request goes to (`learned.rs`).
    learned_model: learned::Choice,
    /// Which learned model takes a second look at an escalation the patterns found
    /// (`second_look.rs`).
    second_look: crate::second_look::Choice,
    /// What the detectors made of the last turn the learned model was asked about
    /// (`detect::signals` and the bits `ESCALATES` to `TOLD_AS_A_STORY`), kept for training
    /// (`learned::example`).
    signals: u16,
}

/// What a call's conversation needs to go on in another process after its media stream was
/// lost (a gateway crash): the flow, where it stood and what was collected. The pipeline stores
/// it in the call's session after every turn; the gateway that resumes the call builds the
/// manager as for a new stream (same call type, CRM profile and subject) and applies it with
/// [`ConversationManager::resume_from`]. Fields added later default, so older sessions still load.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConversationSnapshot {
    /// The flow.
    pub call_type: CallType,
    /// Where the conversation stood.
    pub state: State,
    /// The current request.
    #[serde(default)]
    pub intent: Option<Intent>,
    /// A booking interrupted by a question.
    #[serde(default)]
    pub suspended_intent: Option<Intent>,
    /// What was collected.
    #[serde(default)]
    pub slots: Slots,
    /// Caller turns so far.
    #[serde(default)]
    pub turn_count: u32,
    /// Caller turns in a row without progress.
    #[serde(default)]
    pub turns_without_progress: u32,
    /// Silence check-ins so far.
    #[serde(default)]
    pub silence_timeouts: u32,
    /// Failed tool calls so far.
    #[serde(default)]
    pub tool_failures: u32,
    /// A booking, reschedule or cancel already succeeded.
    #[serde(default)]
    pub completed_action: bool,
    /// The caller turned down a read-back and a correction is awaited.
    #[serde(default)]
    pub awaiting_correction: bool,
    /// Why the call escalated, if it did.
    #[serde(default)]
    pub escalation_reason: Option<EscalationReason>,
}

/// Creates the manager for a caller whose number is not in the CRM.
pub fn create_inbound_new_manager(
    caller_phone: impl Into<String>,
    shop: impl Into<Arc<ShopConfig>>,
) -> ConversationManager {
    ConversationManager::new(
        CallType::InboundNew,
        Some(caller_phone.into()),
        shop,
        None,
        None,
    )
}

/// Creates the manager for a caller the CRM knows.
pub fn create_inbound_existing_manager(
    caller_phone: impl Into<String>,
    customer: CustomerProfile,
    shop: impl Into<Arc<ShopConfig>>,
) -> ConversationManager {
    ConversationManager::new(
        CallType::InboundExisting,
        Some(caller_phone.into()),
        shop,
        Some(customer),
        None,
    )
}

/// Creates the manager for a caller without caller ID, or when the CRM could not be asked.
pub fn create_inbound_general_manager(
    caller_phone: Option<String>,
    shop: impl Into<Arc<ShopConfig>>,
) -> ConversationManager {
    ConversationManager::new(CallType::InboundGeneral, caller_phone, shop, None, None)
}

/// Creates the manager for a reminder call about `appointment`.
pub fn create_outbound_reminder_manager(
    customer: CustomerProfile,
    appointment: AppointmentInfo,
    shop: impl Into<Arc<ShopConfig>>,
) -> ConversationManager {
    let mut res = ConversationManager::new(
        CallType::OutboundReminder,
        Some(customer.phone.clone()),
        shop,
        Some(customer),
        Some(CallSubject::Appointment(appointment.clone())),
    );
    res.slots.appointment_id = Some(appointment.id);
    res.slots.service_type = Some(appointment.service);
    res
}

/// Creates the manager for a follow-up call after the visit `appointment`.
pub fn create_outbound_follow_up_manager(
    customer: CustomerProfile,
    appointment: AppointmentInfo,
    shop: impl Into<Arc<ShopConfig>>,
) -> ConversationManager {
    ConversationManager::new(
        CallType::OutboundFollowUp,
        Some(customer.phone.clone()),
        shop,
        Some(customer),
        Some(CallSubject::Appointment(appointment)),
    )
}

/// Creates the manager for a call telling the customer `vehicle` is due for `service`
/// (a canonical catalog name).
pub fn create_outbound_service_due_manager(
    customer: CustomerProfile,
    vehicle: VehicleInfo,
    service: impl Into<String>,
    shop: impl Into<Arc<ShopConfig>>,
) -> ConversationManager {
    let service = service.into();
    let mut res = ConversationManager::new(
        CallType::OutboundServiceDue,
        Some(customer.phone.clone()),
        shop,
        Some(customer),
        Some(CallSubject::ServiceDue {
            vehicle: vehicle.clone(),
            service: service.clone(),
        }),
    );
    res.intent = Some(Intent::ScheduleAppointment);
    res.logged_intent = res.intent;
    res.slots.service_type = Some(service);
    res.slots.vehicle = Some(vehicle.describe());
    res
}

/// What one utterance contains, before the state machine acts on it.
struct Analysis {
    intent: Option<Intent>,
    answer: Option<Answer>,
    goodbye: bool,
    thanks: bool,
}

impl ConversationManager {
    /// Creates a manager in `greeting`. The factory functions cover the six flows.
    pub fn new(
        call_type: CallType,
        caller_phone: Option<String>,
        shop: impl Into<Arc<ShopConfig>>,
        customer: Option<CustomerProfile>,
        subject: Option<CallSubject>,
    ) -> ConversationManager {
        let shop = shop.into();
        let vocabulary = ShopWords::of(&shop);
        ConversationManager {
            call_type,
            caller_phone,
            shop,
            vocabulary,
            customer,
            subject,
            state: State::Greeting,
            intent: None,
            suspended_intent: None,
            slots: Slots::default(),
            turn_count: 0,
            transitions: Vec::new(),
            turn_start: 0,
            logged_intent: None,
            turns_without_progress: 0,
            silence_timeouts: 0,
            tool_failures: 0,
            completed_action: false,
            awaiting_correction: false,
            escalation_reason: None,
            learned_model: learned::Choice::Project,
            second_look: crate::second_look::Choice::Project,
            signals: 0,
        }
    }

    /// The signals the learned model was last given (0 before it was asked).
    pub(crate) fn signals(&self) -> u16 {
        self.signals
    }

    /// Sets the learned model a first request goes to: `Off` leaves every intent to the
    /// patterns (what the model is trained next to); `Given` is one trained on other lines
    /// (cross-validation).
    pub(crate) fn use_learned_model(&mut self, choice: learned::Choice) {
        self.learned_model = choice;
    }

    /// Which model takes a second look at an escalation the patterns found: `Project` (the
    /// default), `Off` (the patterns have the last word), or `Given` (cross-validation).
    pub(crate) fn use_second_look(&mut self, choice: crate::second_look::Choice) {
        self.second_look = choice;
    }

    /// Why a normalised text hands the call to a person: what the detectors found, unless the
    /// second look reads the line as calm (`second_look.rs`).
    fn escalation_in(&self, heard: &Heard<'_>) -> Option<EscalationReason> {
        detect::escalation(heard).filter(|_| !self.second_look.reads_calm(heard.text()))
    }

    /// The state to store so another process can resume this conversation.
    pub fn snapshot(&self) -> ConversationSnapshot {
        ConversationSnapshot {
            call_type: self.call_type,
            state: self.state,
            intent: self.intent,
            suspended_intent: self.suspended_intent,
            slots: self.slots.clone(),
            turn_count: self.turn_count,
            turns_without_progress: self.turns_without_progress,
            silence_timeouts: self.silence_timeouts,
            tool_failures: self.tool_failures,
            completed_action: self.completed_action,
            awaiting_correction: self.awaiting_correction,
            escalation_reason: self.escalation_reason,
        }
    }

    /// Continues from `snapshot` (taken by another process before the stream was lost). The
    /// CRM profile and the call's subject stay as this manager was built with; the flow, state,
    /// request and slots come from the snapshot. No transition is recorded.
    pub fn resume_from(&mut self, snapshot: ConversationSnapshot) {
        self.call_type = snapshot.call_type;
        self.state = snapshot.state;
        self.intent = snapshot.intent;
        self.logged_intent = snapshot.intent;
        self.suspended_intent = snapshot.suspended_intent;
        self.slots = snapshot.slots;
        self.turn_count = snapshot.turn_count;
        self.turns_without_progress = snapshot.turns_without_progress;
        self.silence_timeouts = snapshot.silence_timeouts;
        self.tool_failures = snapshot.tool_failures;
        self.completed_action = snapshot.completed_action;
        self.awaiting_correction = snapshot.awaiting_correction;
        self.escalation_reason = snapshot.escalation_reason;
        self.transitions.clear();
        self.turn_start = 0;
    }

    /// The flow.
    pub fn call_type(&self) -> CallType {
        self.call_type
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Current intent, if one was recognised.
    pub fn intent(&self) -> Option<Intent> {
        self.intent
    }

    /// Slots collected so far.
    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Caller turns processed.
    pub fn turn_count(&self) -> u32 {
        self.turn_count
    }

    /// The caller's number, E.164, when known.
    pub fn caller_phone(&self) -> Option<&str> {
        self.caller_phone.as_deref()
    }

    /// The CRM profile, for inbound existing and outbound calls.
    pub fn customer(&self) -> Option<&CustomerProfile> {
        self.customer.as_ref()
    }

    /// What an outbound call is about.
    pub fn subject(&self) -> Option<&CallSubject> {
        self.subject.as_ref()
    }

    /// The shop.
    pub fn shop(&self) -> &ShopConfig {
        &self.shop
    }

    /// Every transition of the call so far, oldest first.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// The transitions caused by the last call to `process_message`, `on_silence_timeout`
    /// or `record_tool_result`, oldest first: the pipeline logs each after every call.
    pub fn last_turn_transitions(&self) -> &[Transition] {
        &self.transitions[self.turn_start..]
    }

    /// Whether the call has been handed (or is to be handed) to a person.
    pub fn escalation_triggered(&self) -> bool {
        self.escalation_reason.is_some()
    }

    /// Why the call was escalated.
    pub fn escalation_reason(&self) -> Option<EscalationReason> {
        self.escalation_reason
    }

    /// Whether `text` alone asks for a person, is angry or threatens legal action.
    ///
    /// Pure detection: `process_message` already applies it (and `repeated_failure`, which
    /// no single text shows), so the pipeline may equally check `state() == Escalation`.
    pub fn should_escalate(&self, text: &str) -> bool {
        self.escalation_in(&Heard::new(&normalize(text))).is_some()
    }

    /// Whether a booking, reschedule or cancel already succeeded on this call.
    pub fn completed_action(&self) -> bool {
        self.completed_action
    }

    /// A booking flow a question interrupted; it resumes after the answer.
    pub fn suspended_intent(&self) -> Option<Intent> {
        self.suspended_intent
    }

    /// The slots the current intent still needs, in the order to ask for them.
    pub fn missing_slots(&self) -> Vec<SlotName> {
        let mut res = Vec::new();
        let needs_identity = self.customer.is_none();
        let slots = &self.slots;
        // A closed day, or a time outside that day's hours, is asked for again.
        let hours = slots
            .resolved_date
            .and_then(|date| self.shop.opening_hours(date));
        let date_time = |res: &mut Vec<SlotName>| {
            if hours.is_none() {
                res.push(SlotName::PreferredDate);
            }
            let time_ok = match (slots.resolved_time, hours) {
                (Some(time), Some(hours)) => time >= hours.open && time < hours.close,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !time_ok {
                res.push(SlotName::PreferredTime);
            }
        };
        let appointment_known =
            slots.appointment_id.is_some() || (needs_identity && slots.customer_name.is_some());
        match self.intent {
            Some(Intent::ScheduleAppointment) => {
                if slots.service_type.is_none() {
                    res.push(SlotName::ServiceType);
                }
                date_time(&mut res);
                if needs_identity {
                    if slots.customer_name.is_none() {
                        res.push(SlotName::CustomerName);
                    }
                    if slots.vehicle.is_none() {
                        res.push(SlotName::Vehicle);
                    }
                }
            }
            Some(Intent::RescheduleAppointment) => {
                if !appointment_known {
                    res.push(if needs_identity {
                        SlotName::CustomerName
                    } else {
                        SlotName::Appointment
                    });
                }
                date_time(&mut res);
            }
            Some(Intent::CancelAppointment) => {
                if !appointment_known {
                    res.push(if needs_identity {
                        SlotName::CustomerName
                    } else {
                        SlotName::Appointment
                    });
                }
            }
            Some(Intent::PricingInquiry) => {
                if slots.service_type.is_none() {
                    res.push(SlotName::ServiceType);
                }
            }
            Some(Intent::CheckHours | Intent::CheckStatus | Intent::GeneralInquiry) | None => {}
        }
        res
    }

    /// The conversation in the session-store shape (the seed's `conversation_summary`).
    pub fn get_conversation_summary(&self) -> ConversationSummary {
        ConversationSummary {
            call_type: self.call_type,
            state: self.state,
            intent: self.intent,
            turn_count: self.turn_count,
            collected_slots: self.slots.clone(),
            escalation_triggered: self.escalation_triggered(),
            escalation_reason: self.escalation_reason,
        }
    }

    /// Processes one final caller transcript and returns the state after it.
    ///
    /// The turn may pass through several states; each change is in `last_turn_transitions()`.
    /// `now` is only used to resolve dates ("tomorrow") in the shop's timezone.
    pub fn process_message(&mut self, text: &str, now: DateTime<Utc>) -> State {
        self.turn_count += 1;
        self.turn_start = self.transitions.len();
        self.silence_timeouts = 0;
        if self.state == State::Escalation {
            return self.state;
        }
        let normalized = normalize(text);
        let heard = Heard::new(&normalized);
        // A turn that says cancel names the appointment's own day and time, none "moved from"
        // (a later turn that moves the booking reads them as usual).
        let cancelling = detect::says_cancel(&heard);
        if let Some(reason) = self.escalation_in(&heard) {
            // What the caller wanted still goes into the summary the advisor gets ("ive called
            // three times about my camry, put a manager on" is a status check), read as a first
            // request is: the learned model has its say whatever else the line names. Asking it
            // only when a service, a day or a time was named (anger alone was thought to pull
            // it towards the angry lines it learned from) got 10 fewer of 7187 tuning lines
            // right over 10-fold cross-validation: the patterns miss most complaints that ask
            // where the car is.
            let found = self.first_request_opinion(detect::intent(&heard), &normalized, |_| {
                detect::signals(&heard) | ESCALATES
            });
            if let Some(intent) = found {
                self.intent = Some(intent);
            }
            let when_before = (
                self.slots.preferred_date.clone(),
                self.slots.resolved_date,
                self.slots.preferred_time.clone(),
                self.slots.resolved_time,
                self.slots.time_period,
            );
            self.apply_slots(&normalized, now, cancelling);
            // "im reporting you to the state board today": with nothing asked for in this turn,
            // today (and a time said with it) is when the complaint happens, not a day for the
            // advisor to book. Another day stays: "if its not back by friday im suing" gives
            // the advisor the deadline.
            let today = now.with_timezone(&self.shop.timezone).date_naive();
            if found.is_none()
                && self.slots.resolved_date == Some(today)
                && when_before.1 != Some(today)
            {
                (
                    self.slots.preferred_date,
                    self.slots.resolved_date,
                    self.slots.preferred_time,
                    self.slots.resolved_time,
                    self.slots.time_period,
                ) = when_before;
            }
            self.escalate(reason);
            return self.state;
        }
        let state_before = self.state;
        let when_before = (
            self.slots.resolved_date,
            self.slots.resolved_time,
            self.slots.time_period,
        );
        let slots_changed = self.apply_slots(&normalized, now, cancelling);
        let when_changed = when_before
            != (
                self.slots.resolved_date,
                self.slots.resolved_time,
                self.slots.time_period,
            );
        // A day or time with nothing else ("next friday around ten") is a booking request as
        // the patterns read it (on a caller's first request the learned model has the last
        // word, and reads most bare days and times as no request, as the labels do); on a
        // reminder call it is a new time for the appointment. Taking a time offered
        // ("friday at ten works", "see you saturday") asks for nothing new.
        let implied_intent =
            (self.intent.is_none() && when_changed && !ACCEPTS_A_TIME.is_match(&normalized))
                .then_some(if self.call_type == CallType::OutboundReminder {
                    Intent::RescheduleAppointment
                } else {
                    Intent::ScheduleAppointment
                });
        let found = self.detect_intent(&heard).or(implied_intent);
        let intent = self.first_request_opinion(found, &normalized, |manager| {
            let mut signals = detect::signals(&heard);
            if manager.find_service(&normalized).is_some() {
                signals |= NAMES_A_SERVICE;
            }
            if when_changed {
                signals |= NAMES_A_DAY_OR_TIME;
            }
            if told_as_a_story(&normalized) {
                signals |= TOLD_AS_A_STORY;
            }
            signals
        });
        let analysis = Analysis {
            intent,
            answer: detect::answer(&heard),
            goodbye: detect::is_goodbye(&heard),
            thanks: detect::is_thanks(&heard),
        };
        let answered = self.step(&analysis, &heard, slots_changed);
        self.log_intent_change();

        let progressed = slots_changed || answered || !self.last_turn_transitions().is_empty();
        let waiting = matches!(
            state_before,
            State::IntentDetection | State::SlotCollection | State::Confirmation
        );
        if progressed || !waiting {
            self.turns_without_progress = 0;
        } else {
            self.turns_without_progress += 1;
            if self.turns_without_progress >= MAX_TURNS_WITHOUT_PROGRESS {
                self.escalate(EscalationReason::RepeatedFailure);
            }
        }
        self.state
    }

    /// The pipeline's silence timer fired: the caller said nothing for a while.
    ///
    /// The first timeout only changes the prompt (ask whether they are still there);
    /// the second in a row closes the call. Speech resets the count.
    pub fn on_silence_timeout(&mut self) -> State {
        self.turn_start = self.transitions.len();
        if matches!(self.state, State::Escalation | State::Closing) {
            return self.state;
        }
        self.silence_timeouts += 1;
        if self.silence_timeouts >= MAX_SILENCE_TIMEOUTS {
            self.go(State::Closing);
        }
        self.state
    }

    /// The outcome of the booking, reschedule or cancel tool call.
    ///
    /// `Succeeded` moves to `closing`; `SlotUnavailable` clears the time and goes back to
    /// `slot_collection`; `Failed` stays put and escalates on the second failure.
    ///
    /// It counts from `slot_collection` on (the LLM may act before the read-back); in other
    /// states (say, a late result after the caller moved on) it changes nothing.
    pub fn record_tool_result(&mut self, result: ToolResult) -> State {
        self.turn_start = self.transitions.len();
        // The LLM may act as soon as it has what it needs, before the caller's last "yes" moved
        // the flow to execution: a result counts from slot collection on.
        if !matches!(
            self.state,
            State::SlotCollection | State::Confirmation | State::Execution
        ) {
            return self.state;
        }
        match result {
            ToolResult::Succeeded => {
                self.tool_failures = 0;
                self.completed_action = true;
                self.suspended_intent = None;
                self.go(State::Closing);
            }
            ToolResult::SlotUnavailable => {
                self.slots.preferred_time = None;
                self.slots.resolved_time = None;
                self.slots.time_period = None;
                self.go(State::SlotCollection);
            }
            ToolResult::Failed => {
                self.tool_failures += 1;
                if self.tool_failures >= MAX_TOOL_FAILURES {
                    self.escalate(EscalationReason::RepeatedFailure);
                }
            }
        }
        self.state
    }

    /// Acts on one analysed utterance. Returns whether it answered a read-back question.
    fn step(&mut self, analysis: &Analysis, heard: &Heard<'_>, slots_changed: bool) -> bool {
        match self.state {
            State::Greeting => {
                self.first_turn(analysis, heard);
                false
            }
            State::IntentDetection => {
                if let Some(intent) = analysis.intent {
                    self.intent = Some(intent);
                    self.route();
                } else if analysis.goodbye {
                    self.go(State::Closing);
                }
                false
            }
            State::SlotCollection => {
                if self.switches_intent(analysis.intent) {
                    self.switch_intent(analysis.intent);
                    return false;
                }
                if analysis.goodbye && !slots_changed {
                    self.go(State::Closing);
                    return false;
                }
                let ready = self.missing_slots().is_empty()
                    && (!self.awaiting_correction
                        || slots_changed
                        || analysis.answer == Some(Answer::Yes));
                if ready {
                    self.awaiting_correction = false;
                    self.route();
                }
                false
            }
            State::Confirmation => self.confirm(analysis, slots_changed),
            State::Execution => {
                if self.switches_intent(analysis.intent) {
                    self.switch_intent(analysis.intent);
                } else if slots_changed && self.is_booking() {
                    // A correction after the read-back: confirm the new details.
                    self.route();
                } else if analysis.goodbye {
                    self.go(State::Closing);
                } else if let Some(intent) = self.suspended_intent.take() {
                    self.intent = Some(intent);
                    self.route();
                } else if analysis.thanks || analysis.answer == Some(Answer::No) {
                    self.go(State::Closing);
                }
                false
            }
            State::Closing => {
                // "thanks for booking that" names the finished intent again: not a new request.
                // Asking the same question again is fine to answer again.
                let repeated_question = analysis.intent.is_some()
                    && analysis.intent == self.intent
                    && !self.is_booking();
                let corrected_booking = slots_changed && self.is_booking();
                if analysis.goodbye {
                    // Already closing.
                } else if self.switches_intent(analysis.intent) {
                    self.switch_intent(analysis.intent);
                } else if repeated_question || corrected_booking {
                    self.route();
                }
                false
            }
            State::Escalation => false,
        }
    }

    /// The first caller turn: inbound calls detect the intent; outbound calls take the
    /// answer to the question the greeting asked.
    fn first_turn(&mut self, analysis: &Analysis, heard: &Heard<'_>) {
        match self.call_type {
            CallType::InboundNew | CallType::InboundExisting | CallType::InboundGeneral => {
                self.intent = analysis.intent;
                self.go(State::IntentDetection);
                if self.intent.is_some() {
                    self.route();
                } else if analysis.goodbye {
                    self.go(State::Closing);
                }
            }
            CallType::OutboundReminder => {
                // The greeting asked "will you still be able to make it?".
                self.go(State::Confirmation);
                self.confirm(analysis, false);
            }
            CallType::OutboundFollowUp => {
                if let Some(intent) = analysis.intent {
                    self.intent = Some(intent);
                    self.route();
                } else if detect::is_problem_report(heard) {
                    if self.slots.service_type.is_none() {
                        self.slots.service_type = self.subject_service();
                    }
                    self.intent = Some(Intent::ScheduleAppointment);
                    self.route();
                } else {
                    self.go(State::Closing);
                }
            }
            CallType::OutboundServiceDue => {
                let has_date = self.slots.resolved_date.is_some();
                match analysis.intent {
                    Some(intent) if intent != Intent::ScheduleAppointment => {
                        self.switch_intent(Some(intent));
                    }
                    _ if !has_date
                        && (analysis.answer == Some(Answer::No) || detect::is_decline(heard)) =>
                    {
                        self.go(State::Closing);
                    }
                    _ => self.route(),
                }
            }
        }
    }

    /// Handles an utterance in `confirmation`. Returns whether it answered the read-back.
    fn confirm(&mut self, analysis: &Analysis, slots_changed: bool) -> bool {
        if self.intent.is_none() {
            // The outbound reminder's attendance question.
            return match (analysis.intent, analysis.answer) {
                (Some(intent), _) => {
                    self.intent = Some(intent);
                    self.fill_appointment();
                    self.route();
                    true
                }
                (None, Some(Answer::Yes)) => {
                    self.go(State::Closing);
                    true
                }
                (None, Some(Answer::No)) => {
                    self.intent = Some(Intent::RescheduleAppointment);
                    self.route();
                    true
                }
                (None, None) => false,
            };
        }
        if self.switches_intent(analysis.intent) {
            self.switch_intent(analysis.intent);
            return true;
        }
        if slots_changed {
            // A correction: stay and read the new details back.
            self.awaiting_correction = false;
            if !self.missing_slots().is_empty() {
                self.go(State::SlotCollection);
            }
            return true;
        }
        match analysis.answer {
            Some(Answer::Yes) => {
                self.go(State::Execution);
                true
            }
            Some(Answer::No) => {
                self.awaiting_correction = true;
                self.go(State::SlotCollection);
                true
            }
            None if analysis.goodbye => {
                self.go(State::Closing);
                true
            }
            None => false,
        }
    }

    /// Moves to where the current intent goes next.
    fn route(&mut self) {
        self.fill_appointment();
        let next = match self.intent {
            None => State::IntentDetection,
            Some(Intent::CheckHours | Intent::CheckStatus | Intent::GeneralInquiry) => {
                State::Execution
            }
            Some(Intent::PricingInquiry) => {
                if self.missing_slots().is_empty() {
                    State::Execution
                } else {
                    State::SlotCollection
                }
            }
            Some(
                Intent::ScheduleAppointment
                | Intent::RescheduleAppointment
                | Intent::CancelAppointment,
            ) => {
                if self.missing_slots().is_empty() {
                    State::Confirmation
                } else {
                    State::SlotCollection
                }
            }
        };
        self.go(next);
    }

    /// Whether a detected intent replaces the current one (a new request mid-call).
    fn switches_intent(&self, detected: Option<Intent>) -> bool {
        let Some(detected) = detected else {
            return false;
        };
        match (self.intent, detected) {
            (Some(current), _) if current == detected => false,
            // "can we change the time" while booking is a correction, and "book it for
            // friday" while rescheduling is the new time: not new requests.
            (Some(Intent::ScheduleAppointment), Intent::RescheduleAppointment)
            | (
                Some(Intent::RescheduleAppointment | Intent::CancelAppointment),
                Intent::ScheduleAppointment,
            ) => false,
            _ => true,
        }
    }

    fn switch_intent(&mut self, detected: Option<Intent>) {
        let interrupted = self.is_booking()
            && !matches!(self.state, State::Execution | State::Closing)
            && matches!(
                detected,
                Some(
                    Intent::CheckHours
                        | Intent::CheckStatus
                        | Intent::PricingInquiry
                        | Intent::GeneralInquiry
                )
            );
        if interrupted {
            self.suspended_intent = self.intent;
        }
        self.awaiting_correction = false;
        self.intent = detected;
        self.route();
    }

    pub(crate) fn is_booking(&self) -> bool {
        matches!(
            self.intent,
            Some(
                Intent::ScheduleAppointment
                    | Intent::RescheduleAppointment
                    | Intent::CancelAppointment
            )
        )
    }

    /// A caller's first request on an inbound call (any turn until the call has an intent, so
    /// "hi" then "how much for brakes" asks it about the second) goes to the learned model
    /// (`learned.rs`) unless the patterns found a cancel or a reschedule; it weighs the words
    /// against the patterns' answer (`found`) and what their detectors found (`signals`, worked
    /// out only when the model is asked) and has the last word. Turns after an intent is set and
    /// outbound calls (the caller answering our question) stay with the patterns.
    ///
    /// A cancel or a reschedule is said in so many words, and "cancel" wins over "reschedule"
    /// as the caller said it (letting the model overrule a reschedule too gained a few lines
    /// over cross-validation but read "i dont want to cancel i just want to reschedule" as a
    /// cancel). Letting it overrule a status check lost two lines over 10-fold
    /// cross-validation on 7187 lines; with the model's signals (`learned::features_of`), on
    /// 9071 lines, it gained: 10 more right on average over four shuffle seeds, more on each.
    /// Letting it overrule a general question, a price question or one about hours gained fifty
    /// of 7187 (92.2 % to 92.9 %): a price named in a booking ("little pricey but how soon can
    /// you fit me in"), a charge disputed in a complaint.
    fn first_request_opinion(
        &mut self,
        found: Option<Intent>,
        text: &str,
        signals: impl FnOnce(&Self) -> u16,
    ) -> Option<Intent> {
        let inbound = matches!(
            self.call_type,
            CallType::InboundNew | CallType::InboundExisting | CallType::InboundGeneral
        );
        // A general question about what a service includes (the patterns found no price
        // question), with no number said, stays one: five of the six tuning lines that ask what
        // something includes name a price, so the model reads "what does a tire rotation
        // include" as a price question.
        let what_it_includes = found == Some(Intent::GeneralInquiry)
            && !text.bytes().any(|b| b.is_ascii_digit())
            && WHAT_IT_INCLUDES.is_match(text);
        if self.intent.is_some()
            || !inbound
            || what_it_includes
            || matches!(
                found,
                Some(Intent::CancelAppointment | Intent::RescheduleAppointment)
            )
        {
            return found;
        }
        let signals = signals(self);
        self.signals = signals;
        match &self.learned_model {
            learned::Choice::Project => learned::classify(text, found, signals).intent,
            learned::Choice::Given(model) => model.classify(text, found, signals).intent,
            learned::Choice::Off => found,
        }
    }

    fn detect_intent(&self, heard: &Heard<'_>) -> Option<Intent> {
        if let Some(intent) = detect::intent(heard) {
            return Some(intent);
        }
        // A bare service ("I need brake service") is a booking request when nothing else
        // is going on; while a price is being asked, it is the service being priced.
        let open = matches!(
            self.intent,
            None | Some(Intent::CheckHours | Intent::CheckStatus | Intent::GeneralInquiry)
        ) || self.state == State::Closing;
        let text = heard.text();
        (open && self.find_service(text).is_some() && !told_as_a_story(text))
            .then_some(Intent::ScheduleAppointment)
    }

    /// Extracts slots from the utterance (`cancelling`: it says cancel); returns whether any
    /// changed.
    fn apply_slots(&mut self, text: &str, now: DateTime<Utc>, cancelling: bool) -> bool {
        let mut changed = false;
        let next_missing = self.missing_slots().first().copied();
        let mut named = self.find_services(text);
        if !named.is_empty() && told_as_a_story(text) {
            named.clear();
        }
        if let Some((&first, rest)) = named.split_first() {
            let names = |indices: &[usize]| -> Vec<String> {
                indices
                    .iter()
                    .map(|&idx| self.shop.services[idx].name.clone())
                    .collect()
            };
            let adding = ADDING.is_match(text) && self.slots.service_type.is_some();
            if adding {
                // "and an oil change too": added to what was asked before.
                let mut more = self.slots.more_services.clone();
                for name in names(&named) {
                    if Some(&name) != self.slots.service_type.as_ref() && !more.contains(&name) {
                        more.push(name);
                    }
                }
                changed |= more != self.slots.more_services;
                self.slots.more_services = more;
            } else {
                let first = self.shop.services[first].name.clone();
                changed |= set(&mut self.slots.service_type, first);
                let more = names(rest);
                changed |= more != self.slots.more_services;
                self.slots.more_services = more;
            }
        }
        changed |= self.apply_spelled(text);
        if when::may_name_a_day_or_time(text)
            || self
                .vocabulary
                .holidays
                .iter()
                .any(|(short, _)| text.contains(short.as_str()))
        {
            changed |= self.apply_day_and_time(text, now, next_missing, cancelling);
        }
        let vehicle = detect::vehicle(text).or_else(|| {
            (next_missing == Some(SlotName::Vehicle) && !changed)
                .then(|| detect::bare_vehicle(text))
                .flatten()
        });
        if let Some(vehicle) = vehicle {
            let vehicle = self.known_vehicle(&vehicle).unwrap_or(vehicle);
            changed |= set(&mut self.slots.vehicle, vehicle);
        }
        let name = detect::introduced_name(text).or_else(|| {
            (next_missing == Some(SlotName::CustomerName) && !changed)
                .then(|| detect::bare_name(text))
                .flatten()
        });
        if let Some(name) = name {
            changed |= set(&mut self.slots.customer_name, name);
        }
        changed
    }

    /// Reads the day and time asked for (not those moved from or in the past); returns whether
    /// a slot changed.
    fn apply_day_and_time(
        &mut self,
        text: &str,
        now: DateTime<Utc>,
        next_missing: Option<SlotName>,
        cancelling: bool,
    ) -> bool {
        let mut changed = false;
        let today = now.with_timezone(&self.shop.timezone).date_naive();
        // "from thursday to saturday", "cant make it tomorrow, could we do monday": the day
        // after the last switch word is the one wanted; "since monday" is the past.
        let without_past = SINCE.replace_all(text, "");
        // The day and time being moved away from are not the ones asked for (`OLD_WHEN`).
        // A cancel's day and time are those of the appointment cancelled ("cancel monday, i
        // had it at 8 15"): nothing is moved from.
        let moved_text = if cancelling {
            without_past.clone()
        } else {
            OLD_WHEN.replace_all(&without_past, " ")
        };
        let moved_some = moved_text != without_past;
        // Each reading of a text is done once and kept: the day in what is left once the day
        // moved from is blanked is also the day asked for, and so is its time when the hours
        // used to read it are the same.
        let moved_date = moved_some
            .then(|| when::find_date(&moved_text, today))
            .flatten();
        let moved_names_a_day =
            moved_some && (moved_date.is_some() || self.find_holiday(&moved_text, today).is_some());
        let mut moved_time = None;
        let moved = moved_names_a_day
            || (moved_some && {
                let hours = self.hours_for_reading_times();
                let found = when::find_time(&moved_text, hours);
                let named = found.is_some();
                moved_time = Some((hours, found));
                named
            });
        // What is left names no day ("same day", "instead of 8 tomorrow, 10"): the day stays.
        let date_text: &str = if moved && moved_names_a_day {
            &moved_text
        } else {
            &without_past
        };
        let time_text: &str = if moved && !SAME_TIME.is_match(text) {
            &moved_text
        } else {
            &without_past
        };
        let holidays = &self.vocabulary.holidays;
        // The last switch word followed by a day ("thursday no friday at 11, i need to cancel
        // that": "no", not the "to" of "need to").
        // A switch word after the last word a day can be read from is followed by no day
        // (`when::last_day_word`); the rest of the text is not read again after it.
        // Only the text before that word is searched: no switch word has one of the words
        // `when::last_day_word` looks for in it, so no match runs across the word found, and
        // each ends with a letter, so none ends at its start either (a non-word byte is
        // before a word's start); the matches found are those of the whole text that end
        // before it.
        let before_last_day_word = when::last_day_word(date_text).map_or("", |at| &date_text[..at]);
        let switched = SWITCH
            .find_iter(before_last_day_word)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find_map(|m| {
                let rest = &date_text[m.end()..];
                // The switch word is read with what follows: "this morning" is a day asked
                // for after "actually" or "no", not after "so" (`when::find_date`).
                let date = when::find_weekday_after(rest, holidays, today)
                    .or_else(|| when::find_date(&date_text[m.start()..], today))?;
                // "i know youre closed thursday": a day the shop is closed, named after
                // "closed", is not the one wanted; a day after it is ("youre closed thursday,
                // friday then"), as is an open one ("thursday, oh youre closed, friday then").
                let closed_day = m.as_str() == "closed"
                    && date
                        .date
                        .is_some_and(|day| self.shop.opening_hours(day).is_none());
                if !closed_day {
                    return Some(date);
                }
                let after = rest
                    .find(&date.heard)
                    .map(|at| &rest[at + date.heard.len()..])?;
                when::find_date(after, today)
            });
        let date = switched
            .or_else(|| when::find_weekday_after(date_text, holidays, today))
            .or_else(|| {
                if moved && moved_names_a_day {
                    moved_date
                } else {
                    when::find_date(date_text, today)
                }
            })
            .or_else(|| self.find_holiday(date_text, today))
            .or_else(|| {
                (next_missing == Some(SlotName::PreferredDate))
                    .then(|| when::find_bare_day(text, today))
                    .flatten()
            })
            .map(|date| day_after_or_before(date_text, date));
        // A choice left open in the caller's own words stays open when the day moved from or
        // a day read as past is blanked ("is my appointment thursday or was it friday"), unless
        // a day or time is named after it ("i cant make it monday or tuesday, could we do
        // friday").
        if undecided_day(date_text).is_some()
            || undecided_day(text).is_some_and(|end| !named_after(text, end, true))
        {
            // Neither day is settled, and a day from an earlier turn ("what time do you close
            // today", then "tomorrow or maybe friday") is not the one wanted either.
            changed |= self.slots.preferred_date.take().is_some();
            changed |= self.slots.resolved_date.take().is_some();
        } else if let Some(date) = date {
            changed |= set(&mut self.slots.preferred_date, date.heard);
            changed |= self.slots.resolved_date != date.date;
            self.slots.resolved_date = date.date;
        }
        let hours = self.hours_for_reading_times();
        // As for days: no clock time follows a correction word after the last word one can be
        // read from (`when::last_clock_word`).
        let asked_time_text = not_asked_time_left_out(time_text);
        let time_text: &str = &asked_time_text;
        // Without such a word, no correction word is searched for.
        let last_clock_word = when::last_clock_word(time_text);
        let corrected = last_clock_word.and_then(|at| {
            TIME_CORRECTION
                .find_iter(time_text)
                .take_while(|m| at >= m.end())
                .filter(|m| !is_range_not_move(time_text, m))
                .filter_map(|m| {
                    let rest = &time_text[m.end()..];
                    leading_hour(rest, hours)
                        .or_else(|| when::find_time(rest, hours).filter(|t| t.time.is_some()))
                        .map(|time| (m.start(), time))
                })
                .last()
        });
        // Of a correction and a time asked for instead, the one said later wins ("no i was
        // gonna come at 2 but could i come at 4 instead": 4; "could i come at 4 instead no
        // wait 5": 5).
        let time = match (corrected, time_asked_instead(time_text, hours)) {
            (Some((corrected_at, corrected)), Some((asked_at, asked))) => {
                Some(if asked_at > corrected_at {
                    asked
                } else {
                    corrected
                })
            }
            (corrected, asked) => corrected.or(asked).map(|(_, time)| time),
        };
        let time = time
            .or_else(|| match moved_time {
                Some((read_with, found)) if read_with == hours && time_text == &*moved_text => {
                    found
                }
                _ => when::find_time(time_text, hours),
            })
            .or_else(|| {
                (next_missing == Some(SlotName::PreferredTime))
                    .then(|| when::find_bare_hour(&not_asked_time_left_out(text), hours))
                    .flatten()
            });
        let time = time.map(|time| shifted(time_text, time));
        if undecided_time(time_text).is_some()
            || undecided_time(text).is_some_and(|end| !named_after(text, end, false))
        {
            // As for days: neither time is settled, and an earlier one is not wanted either.
            changed |= self.slots.preferred_time.take().is_some();
            changed |= self.slots.resolved_time.take().is_some();
        } else if let Some(time) = time {
            changed |= set(&mut self.slots.preferred_time, time.heard);
            changed |=
                self.slots.resolved_time != time.time || self.slots.time_period != time.period;
            self.slots.resolved_time = time.time;
            self.slots.time_period = time.period;
        }
        changed
    }

    /// A holiday named in the text ("thanksgiving", "new years"), on or after today; its eve
    /// is the day before. A holiday that only marks a period ("after thanksgiving",
    /// "thanksgiving week", "between christmas and new years") or a sale ("black friday
    /// deals") names no day.
    fn find_holiday(&self, text: &str, today: chrono::NaiveDate) -> Option<when::DateMention> {
        // Blanking greetings and periods only ever takes a holiday's name away: without one in
        // the text, there is nothing to read.
        let holidays = &self.vocabulary.holidays;
        if !holidays
            .iter()
            .any(|(short, _)| text.contains(short.as_str()))
        {
            return None;
        }
        let text = &*HOLIDAY_GREETING.replace_all(text, " ");
        // "after thanksgiving" is a period; "the day after thanksgiving" is a day.
        if HOLIDAY_PERIOD
            .find_iter(text)
            .any(|m| !text[..m.start()].ends_with("day "))
        {
            return None;
        }
        holidays
            .iter()
            .filter(|(_, date)| *date >= today)
            .find_map(|(short, date)| {
                let after = word_run_at(text, short)?;
                let next = after.split(' ').next().unwrap_or("");
                if next == "eve" {
                    return Some(when::DateMention {
                        heard: format!("{short} eve"),
                        date: date.pred_opt(),
                    });
                }
                if matches!(next, "deals" | "specials" | "sale" | "sales" | "week") {
                    return None;
                }
                Some(when::DateMention {
                    heard: short.clone(),
                    date: Some(*date),
                })
            })
    }

    /// Opening hours used to read "2:30" as afternoon: those of the date asked for, else
    /// the first open weekday's, else 8 to 5.
    fn hours_for_reading_times(&self) -> OpeningHours {
        self.slots
            .resolved_date
            .and_then(|date| self.shop.opening_hours(date))
            .or_else(|| self.shop.hours.0.iter().flatten().next().copied())
            .unwrap_or(OpeningHours {
                open: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
                close: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
            })
    }

    /// The earliest catalog phrase in the text (longest on ties), as a service index.
    /// Values the caller spells out: a VIN (check digit validated), a plate, a phone number, a
    /// spelled name. Returns whether a slot changed.
    fn apply_spelled(&mut self, text: &str) -> bool {
        let mut changed = false;
        // One pass over the words for every cue below.
        let (mut vin_word, mut spell_word, mut letters) = (false, false, 0);
        for word in text.split(' ') {
            match word {
                "vin" => vin_word = true,
                "spelled" | "spell" => spell_word = true,
                _ if word.len() == 1 => letters += 1,
                _ => {}
            }
        }
        if vin_word {
            match crate::spelled::vin(text) {
                Ok(vin) => {
                    changed |= set(&mut self.slots.vin, vin);
                    self.slots.vin_misheard = false;
                }
                Err(crate::spelled::VinError::CheckDigit) => {
                    changed |= !self.slots.vin_misheard;
                    self.slots.vin_misheard = true;
                }
                Err(_) => {}
            }
        }
        if text.contains("plate")
            && let Some(plate) = crate::spelled::plate(text)
        {
            changed |= set(&mut self.slots.plate, plate);
        }
        if let Some(phone) = crate::spelled::phone_number(text) {
            changed |= set(&mut self.slots.phone, phone);
        }
        let spelling = text.contains(" as in ") || spell_word || letters >= 3;
        if spelling
            && !vin_word
            && !text.contains("plate")
            && let Some(name) = crate::spelled::spelled_name(text)
        {
            changed |= set(&mut self.slots.spelled_name, name);
        }
        changed
    }

    /// Every service named in `text`, in order, each once.
    fn find_services(&self, text: &str) -> Vec<usize> {
        let mut found = Vec::new();
        let mut offset = 0;
        let mut skip_to = 0;
        let mut not_a_service = NotAService::new(text);
        for word in text.split(' ') {
            let start = offset;
            offset += word.len() + 1;
            if start < skip_to {
                continue;
            }
            if let Some((len, idx)) = self.catalog_phrase_at(word, &text[start..]) {
                skip_to = start + len;
                if not_a_service.covers(start) {
                    continue;
                }
                if !found.contains(&idx) {
                    found.push(idx);
                }
            }
        }
        found
    }

    /// The longest catalog phrase that `rest` (starting with `word`) begins with, whole words
    /// only, a plural "s" allowed ("oil changes"): its length and service index.
    fn catalog_phrase_at(&self, word: &str, rest: &str) -> Option<(usize, usize)> {
        self.vocabulary
            .catalog
            .get(word)?
            .iter()
            .find_map(|(phrase, idx)| {
                let after = rest.strip_prefix(phrase.as_str())?;
                let len = match after.as_bytes() {
                    [] | [b' ', ..] => phrase.len(),
                    [b's'] | [b's', b' ', ..] => phrase.len() + 1,
                    _ => return None,
                };
                Some((len, *idx))
            })
    }

    fn find_service(&self, text: &str) -> Option<usize> {
        let mut offset = 0;
        let mut not_a_service = NotAService::new(text);
        for word in text.split(' ') {
            if let Some((_, idx)) = self.catalog_phrase_at(word, &text[offset..])
                && !not_a_service.covers(offset)
            {
                return Some(idx);
            }
            offset += word.len() + 1;
        }
        None
    }

    /// The customer's vehicle on file that `said` names ("my civic" -> "2019 Honda Civic").
    fn known_vehicle(&self, said: &str) -> Option<String> {
        let said = said.to_lowercase();
        self.customer.as_ref()?.vehicles.iter().find_map(|vehicle| {
            let make = vehicle.make.to_lowercase();
            let model = vehicle.model.to_lowercase();
            (said.contains(&make) || said.contains(&model)).then(|| vehicle.describe())
        })
    }

    /// For reschedule and cancel: picks the appointment the caller means, when it is clear.
    fn fill_appointment(&mut self) {
        if self.slots.appointment_id.is_some()
            || !matches!(
                self.intent,
                Some(Intent::RescheduleAppointment | Intent::CancelAppointment)
            )
        {
            return;
        }
        let Some(customer) = &self.customer else {
            return;
        };
        let tz = self.shop.timezone;
        let upcoming: Vec<&AppointmentInfo> = customer
            .upcoming_appointments
            .iter()
            .filter(|appointment| appointment.status == "scheduled")
            .collect();
        let chosen = match upcoming.as_slice() {
            [only] => Some(*only),
            many => many
                .iter()
                .copied()
                .find(|appointment| {
                    self.slots.service_type.as_deref() == Some(appointment.service.as_str())
                })
                .or_else(|| {
                    // Only a cancel names the appointment by its day; a reschedule's date is the new one.
                    (self.intent == Some(Intent::CancelAppointment))
                        .then(|| {
                            many.iter().copied().find(|appointment| {
                                Some(appointment.starts_at.with_timezone(&tz).date_naive())
                                    == self.slots.resolved_date
                            })
                        })
                        .flatten()
                }),
        };
        if let Some(appointment) = chosen {
            self.slots.appointment_id = Some(appointment.id);
            if self.slots.service_type.is_none() {
                self.slots.service_type = Some(appointment.service.clone());
            }
        }
    }

    /// The appointment an outbound call is about.
    pub(crate) fn subject_appointment(&self) -> Option<&AppointmentInfo> {
        match &self.subject {
            Some(CallSubject::Appointment(appointment)) => Some(appointment),
            _ => None,
        }
    }

    /// The appointment being rescheduled or cancelled, from the slot.
    pub(crate) fn target_appointment(&self) -> Option<&AppointmentInfo> {
        let id = self.slots.appointment_id?;
        self.subject_appointment()
            .filter(|appointment| appointment.id == id)
            .or_else(|| {
                self.customer
                    .as_ref()?
                    .upcoming_appointments
                    .iter()
                    .find(|appointment| appointment.id == id)
            })
    }

    fn subject_service(&self) -> Option<String> {
        match &self.subject {
            Some(CallSubject::Appointment(appointment)) => Some(appointment.service.clone()),
            Some(CallSubject::ServiceDue { service, .. }) => Some(service.clone()),
            None => None,
        }
    }

    fn escalate(&mut self, reason: EscalationReason) {
        self.escalation_reason = Some(reason);
        self.suspended_intent = None;
        self.go(State::Escalation);
    }

    /// Moves to `to`, recording the transition (also when only the intent changed).
    fn go(&mut self, to: State) {
        if to != self.state || self.intent != self.logged_intent {
            self.transitions.push(Transition {
                turn: self.turn_count,
                from: self.state,
                to,
                intent: self.intent,
            });
            self.state = to;
            self.logged_intent = self.intent;
        }
    }

    fn log_intent_change(&mut self) {
        if self.intent != self.logged_intent {
            self.go(self.state);
        }
    }
}

/// Sets an optional slot; returns whether the value changed.
fn set(slot: &mut Option<String>, value: String) -> bool {
    if slot.as_deref() == Some(value.as_str()) {
        return false;
    }
    *slot = Some(value);
    true
}

impl ConversationManager {
    /// Escalates for a reason the pipeline saw outside the caller's words (the caller pressed 0,
    /// speech recognition was lost). Does nothing when the call already escalated.
    pub fn escalate_for(&mut self, reason: EscalationReason) {
        if self.state != State::Escalation {
            self.escalate(reason);
        }
    }
}
