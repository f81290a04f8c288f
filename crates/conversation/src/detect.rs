//! Pattern detectors over normalised text (see `text::normalize`): intents, escalation,
//! yes/no, goodbyes, names and vehicles. Every regex is compiled once per process.
//!
//! A detector is a positive pattern plus an optional "false alarm" pattern. The false alarms
//! are blanked out first, so "no need for a manager but get me a real person" still escalates
//! while "no need for a manager" alone does not.

use std::cell::{Cell, RefCell};
use std::sync::LazyLock;

use regex::Regex;

use crate::phrases::{Blanked, PatternSet, Scan};
use crate::text::ascii_regex;

use crate::types::{EscalationReason, Intent};

/// A positive pattern with the phrases that only look like it (ids in `Detectors::patterns`),
/// which are blanked out before the positive pattern is asked again.
struct Detector {
    positive: usize,
    false_alarms: Option<usize>,
}

impl Detector {
    /// Byte offset of the first real match. Most utterances match no detector, so the positive
    /// pattern is tried first; the false alarms are blanked out only when both match.
    /// Asked again of the same `Heard`, the answer is the one kept (see `Heard::found`).
    fn find(&self, heard: &Heard<'_>) -> Option<usize> {
        if let Some(&(_, found)) = heard
            .found
            .borrow()
            .iter()
            .find(|(positive, _)| *positive == self.positive)
        {
            return found;
        }
        if !self.is_match(heard) {
            return None;
        }
        let patterns = &DETECTORS.patterns;
        let found = patterns
            .find_start(self.positive, heard.text, &heard.scan)
            .and_then(|first| match self.blanked(heard) {
                None => Some(first),
                Some(blanked) => patterns.find_start(self.positive, &blanked.text, &blanked.scan),
            });
        heard.found.borrow_mut().push((self.positive, found));
        found
    }

    /// Whether there is a real match (no start offset is needed). Asked again of the same
    /// `Heard`, the answer is the one kept (see `Heard::matched`).
    fn is_match(&self, heard: &Heard<'_>) -> bool {
        let bit = 1u64.checked_shl(u32::try_from(self.positive).unwrap_or(u32::MAX));
        if let Some(bit) = bit
            && heard.asked.get() & bit != 0
        {
            return heard.matched.get() & bit != 0;
        }
        let matched = self.match_now(heard);
        if let Some(bit) = bit {
            heard.asked.set(heard.asked.get() | bit);
            if matched {
                heard.matched.set(heard.matched.get() | bit);
            }
        }
        matched
    }

    fn match_now(&self, heard: &Heard<'_>) -> bool {
        let patterns = &DETECTORS.patterns;
        if !patterns.is_match(self.positive, heard.text, &heard.scan) {
            return false;
        }
        match self.blanked(heard) {
            None => true,
            Some(blanked) => patterns.is_match(self.positive, &blanked.text, &blanked.scan),
        }
    }

    /// The text with the false alarms blanked out (with spaces of the same length, so offsets
    /// stay comparable), when there are any.
    fn blanked(&self, heard: &Heard<'_>) -> Option<Blanked> {
        DETECTORS
            .patterns
            .blank(self.false_alarms?, heard.text, &heard.scan)
    }
}

/// Collects the detectors' patterns, positive and false alarms, into one `PatternSet`.
#[derive(Default)]
struct Builder {
    patterns: Vec<&'static str>,
}

impl Builder {
    fn add(&mut self, positive: &'static str, false_alarms: Option<&'static str>) -> Detector {
        self.patterns.push(positive);
        let positive = self.patterns.len() - 1;
        let false_alarms = false_alarms.map(|pattern| {
            self.patterns.push(pattern);
            self.patterns.len() - 1
        });
        Detector {
            positive,
            false_alarms,
        }
    }

    fn finish(&self) -> PatternSet {
        PatternSet::new(&self.patterns)
    }
}

/// A normalised utterance with every detector's phrases found in one pass: build it once per
/// utterance and ask it all the questions below.
/// The turn's code asks some detectors more than once (`says_cancel` and `intent` both ask the
/// cancel detector, `intent` and `signals` the ranked ones): each answer is worked out once
/// and kept here, since a detector that matches blanks its false alarms, which costs a copy of
/// the text and regex searches.
pub(crate) struct Heard<'t> {
    text: &'t str,
    scan: Scan,
    /// Bit `id` set: the detector whose positive pattern is `id` was asked `is_match`
    /// (patterns past 63 are not kept: asked again, they are worked out again).
    asked: Cell<u64>,
    /// Bit `id` set: and it matched.
    matched: Cell<u64>,
    /// `find`'s answers, by the detector's positive pattern.
    found: RefCell<Vec<(usize, Option<usize>)>>,
}

impl<'t> Heard<'t> {
    pub(crate) fn new(text: &'t str) -> Heard<'t> {
        Heard {
            text,
            scan: DETECTORS.patterns.scan(text),
            asked: Cell::new(0),
            matched: Cell::new(0),
            found: RefCell::new(Vec::new()),
        }
    }

    /// The normalised text.
    pub(crate) fn text(&self) -> &'t str {
        self.text
    }
}

/// How many detectors are ranked (`Detectors::ranked`).
const RANKED: usize = 5;

struct Detectors {
    cancel: Detector,
    reschedule: Detector,
    /// Leftmost wins among these; ties go to the earlier entry.
    ranked: [(Intent, Detector); RANKED],
    legal: Detector,
    manager: Detector,
    anger: Detector,
    yes: Detector,
    no: Detector,
    goodbye: Detector,
    thanks: Detector,
    problem_report: Detector,
    decline: Detector,
    name: Regex,
    vehicle: Regex,
    /// Every detector's positive and false-alarm patterns.
    patterns: PatternSet,
}

static DETECTORS: LazyLock<Detectors> = LazyLock::new(|| {
    let mut d = Builder::default();
    Detectors {
    cancel: d.add(
        r"\b(cancel\w*|call off|call it off|dont need the appointment|dont need that appointment|dont need it anymore|(take|get|remove) (me|us|it|that|the \w+|my \w+) (off|from) (the|your|my) (books|schedule|list|calendar)|(take|get|remove) (me|us) off\b|just drop (it|the \w+( \w+)?)|(dont|do not|no) (need|want) to re ?book\w*|dont bother re ?book\w*|ill (just )?call (later|back|you) to (set up|book|schedule) (another|a new)|(wont|will not) be bringing (it|her|him|the \w+)|drop (my|the|that) (appointment|booking)|(wont|will not) be needing it|(dont|do not) think ill be needing|no point in keeping|release my|dont expect me|back out of|wont be bringing it|(dont|do not) want to rebook|wont be coming|void the|scrap my|forget the (inspection|appointment|oil change|alignment|booking)|kill my appointment|drop the \w+( \w+)? from|pass on the (appointment|booking)|take my name off|take me off (for|on)|scratch (the|my|that|it|both)|forget (about )?(the|my|it|tomorrow|today|that) ?(appointment|booking)?|never ?mind (about )?(the|my) \w+|delete (my|the) (booking|appointment)|bail on|(wont|will not|dont|do not) (need|be needing) (the|my|that) \w+|(dont|do not) need to (come|bring it) in|no need for the \w+|give (the|my) (spot|slot) to someone|(dont|do not) need another (day|time)|not coming in|(call|book) (back )?another time)\b",
        Some(
            r"\b(if|when) (you|yall) (have|get) a cancell?ation\b|\bcancell?ation list\b|\b(you|yall|they) cancell?ed on (me|us)\b|\b(dont|do not|not|never|no need to) (want to |need to |wanna |going to |gonna )?cancel\w*\b|\b(instead of|rather than|should i|do i have to|or) cancel\w*\b|\b(did|was|has|had|is) (my|the|our|that) (\w+ )?(appointment|booking)( \w+)? (get |got |gotten |been |was )?cancell?ed\b|\b(did|has|have) (you|yall|you guys|they|somebody|someone|anybody|anyone) (\w+ )?cancell?ed (my|our|the) (\w+ )?(appointment|booking)\b|\b(you|yall|you guys|they|somebody|someone) (must have |might have |mightve |mustve |accidentally |already )?cancell?ed (my|our|the) (\w+ )?(appointment|booking)\b|\b(my|our|the) (\w+ )?(appointment|booking) (got|was|had been|has been|been) cancell?ed\b|\b(just drop (it|her|him|them|the \w+|my \w+|the \w+ \w+) off( (and|its|at|by|in|on|before|after|early|tonight|tomorrow|today|for|or|so|then|if|when|there|here|whenever|sometime|later|1st|real|myself|with|around|like|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|$))|\b(scratch(ed)? (my|the) (door|paint|bumper|fender|rims?|wheel|hood|mirror|windshield)|(you|yall|guys|to|did|they|someone|somebody) scratch (my|the) (car|truck|van))\b",
        ),
    ),
    reschedule: d.add(
        r"\b(move up (my|the|our) [\w ]{1,20}? to (tomorrow|today|this|next|monday|tuesday|wednesday|thursday|friday|saturday|\d)|move (my|the) [\w ]{1,20} up to (tomorrow|today|this|next|monday|tuesday|wednesday|thursday|friday|saturday|\d)|re ?schedul\w*|re ?book\w*|move (me|my|the|it|our|that)( appointment| booking)?|push(ing)? (it|my \w+( \w+)?|the \w+( \w+)?|things|that) (back|to|out)|change (it|that|this) to|(cant|cannot|can not) make my|(i was booked|on the books for|im down for|i got the \w+( \w+)? (tomorrow|today|on)|i have the \w+( \w+)? (tomorrow|today|on))\b[\w ]{0,70}\b(instead|any way|could|can i|can it|would)|make my appointment|(an hour|a day|\w+) (earlier|later) than|in place of my|bump me|instead of (the|my|tomorrow|today)|rather (do|than)|lets try the|supposed to bring|(ok|okay|work|possible) instead|make it (later|earlier|sooner)|(cant|cannot) do \w+ (no more|anymore)|(be|get|gets|got|been|has to be|needs to be) moved|moved my appointment|move (tomorrows|todays|mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays|this|that) \w+|(do|make it|make that|come in|switch \w+|move \w+|try)\b[\w ]{0,40}\binstead|(i|we) (booked|scheduled|made|had you down|had it down) [\w ]{0,80}\b(make it|what do you have|what else|could we|can we)|supposed to (come|be) in [\w ]{0,40}\b(could we|can we|can you)|change (my|the) (appointment|booking|time|day|date)|different (day|time|date)|another (day|time|date)|a new (day|time|date)|cant make it|cannot make it|can not make it|wont be able to make it|not going to make it|not gonna make it|cant (come|do) (in )?(on|at|tomorrow|today|the)|bump (it|my \w+|the \w+)|(shift|slide|switch) (my|the|it|that)|swap (it )?to|later (time|slot)|(earlier|sooner) (time|slot|day)|do it sooner|later than my|(than|from) my current|(my|our) (slot|appointment|booking) (is|was)( at| for)? [\w ]{1,40}?\binstead$|(i|we) (was|were) (gonna|going to) (come|drop|bring)[\w ]{1,40}?\binstead$)\b",
        Some(
            r"\bno later than\b|\bdid (that|it|my appointment) (get |got )?moved\b|\b(dont|do not|no need to|dont bother|not|please dont|wont) (need to |bother |want to )?(re ?book\w*|re ?schedul\w*|move (it|me))( me)?\b|\bnot move it\b|\bwhat (time|day) was i supposed to\b|\bdid (somebody|someone|you|anyone|yall) move me\b|\bill (just )?call (later|back|you) to (set up|book|schedule)( another| a new)?( 1| time)?\b|\b((text|message|call|voicemail|email) (saying |that )?(my|the) appointment (got|was) moved)\b",
        ),
    ),
    ranked: [
        (
            Intent::CheckHours,
            d.add(
                r"\b(opening hours|business hours|^(you|yall|you guys) (do|work|open) (sundays|saturdays|weekends)|(do|does|are) (you|yall|you guys) [\w ]{0,30}on (sundays|saturdays|weekends|the weekends?)|hours|are you (guys )?open|you (guys )?open|open (on|today|tomorrow|this|saturday|sunday|until|till|late|right now|now|during)|what time do you (guys )?(open|close)|when do you (guys )?(open|close)|what time (does|do) (the shop|it|you) (open|close)|closing time|how late|open (at|by|before|early|late) \d|(anybody|anyone|somebody|someone) (gonna be|going to be|be) there|(till|until) (what time|when)|what time (do|does) (you|ya|yall|you guys|the shop) (\w+ )?(start|finish|lock up|shut|get in)|what time you finish|lock up|shut the doors|shut for|(do|does) (you|yall|you guys) (do|work) (sundays|saturdays|weekends)|(anybody|anyone|somebody) (still )?(be )?(around|at the shop)|(will|would) (anybody|anyone|somebody) (still )?be|are (you|yall|ya|you guys) (around|working|still gonna be there)|still (gonna )?(be )?(there|around) (if|at)|take [\w ]{0,15} off\b|taking it off|last drop off|how early can|too late|staffed|(do|does) (you|yall|you guys) take [\w ]{0,15} off|what time you (close|open)|youre around|when (you|yall|you guys) (get in|start|finish)|if youre there|when does (the shop|it|the place) (open|close)|(saturdays|sundays|weekends) at all|before you (close|open)|(yall|you all) open|you (close|open) at|close (today|tonight|on|early)|what time are you|(what )?days are you (closed|open)|are you closed|anybody there (on|at)|still open|latest i (can|could)|what time can i drop)\b",
                Some(
                    r"\bhundred hours\b|\b(whats open|what do you (have|got) open|(anything|something) open|how many hours|in (a few|a couple|2|3) hours|(take|takes|taking|be) (a few |a couple (of )?|2 |3 )?hours|after hours|\d+ (damn |whole |long |more )?hours|(before|after) you (guys )?(open|close))\b",
                ),
            ),
        ),
        (
            Intent::CheckStatus,
            d.add(
                r"\b(did (that|the|my) (part|parts|tires?|battery)( from the \w+)? (ever )?(show|come|arrive|get) (up|in)|(some ?body|anybody|anyone|someone) (wrote|has written|had written) up (that|the|my) (estimate|quote)|(did|has|have) (some ?body|anybody|anyone|someone) (write|written) up (that|the|my) (estimate|quote)|(supposed to|was (anybody|anyone|somebody|someone|some body) (gonna|going to)) (call|text|email) me( back)? (with )?(a|the|my) (quote|price|estimate)|did (my|the) [\w ]{1,25}? get (moved|changed|pushed)|making sure (it|she|he|the \w+) (actually )?(got|made it) (there|their|in)|did the (tow|towing) (company|truck|guy) (drop|bring)|where (the hell |the heck |on earth )?is my (car|truck|van|jeep)|did my \w+ pass|(were|was) the [\w ]{1,20} put on( already| yet)?|if its (done|ready|finished)|just confirming|can you confirm (that|my|im|i am)|if im on the books|am i (still )?on the books|(anybody|anyone|somebody|someone) (even )?(touching|working on|looking at) my (car|truck|van)|want my (car|truck|van) back|(car|truck|van|jeep|suv)\b[\w ]{0,40}\bwhere is it$|nobodys called|waiting [\w ]{0,12}for a call ?back|when (my|the) (car|truck|van) will be (done|ready|finished)|it in the bay yet|(make sure|double check|confirm) (that )?my appointment|supposed to (call|get back to) me|wheres my (car|truck|van|vehicle|suv|jeep)|(is it|its) (almost|nearly) (done|ready|finished)|supposed to (have|get) (it|my \w+|the \w+) back|(nobody|no one) (called|has called|got back to) me (about|with|yet)|(insurance|warranty)( company)? (approve|approved|ok|okay)|been sitting (there|here|in your lot|a week|for a week|for days)|^my appointments? (is )?(at|on|for)\b[\w ]{0,30}\bright$|is (my|the) (car|truck|vehicle|van|suv|jeep) ready|(still )?(isnt|is not|aint) (done|ready|finished)|(gonna|going to) be (done|finished|ready)|called me back about (my|the)|get to (it|her|him|my \w+|the \w+) yet|(calling|checking|call) (about|on) (my|the) (car|truck|vehicle|van|suv|jeep)$|(car|truck|vehicle) (is )?(ready|done|finished)|is it (ready|done|finished)|ready (yet|for pick ?up)|status|hows (my|the) \w+( \w+)? coming|how is (my|the) \w+ coming|coming along|hows my (car|truck)|how is my (car|truck)|how (is|are) (the|my) repairs?|still working on|when (can i|i can|could i|i could) (pick|come get|come pick|get) (it|her|him|my car|my truck|up)|pick (it|her|him|my car|my truck) up|pick up my (car|truck)|come (grab|get) it|done with my (car|truck)|finished with my (car|truck)|any (update|word|news)|(is|are) (the|my) [\w ]{1,30} (done|finished|ready|on yet|fixed|all set)|(done|finished|ready) with the|(done|finished) on the (car|truck|van|jeep|suv)|(is|was) (it|the \w+) (done|fixed|finished|ready)|going on with (my|it|the)|is my (car|truck|van|\w+) (finish|finished|done|ready)|come get (my|the) (car|truck|van)|come get it|grab the (van|car|truck)|come by for it|(what|did) (did )?the mechanic (find|say)|(got|gotten) to (my|the|it)\b|had a chance to look|(are|is) (they|it) finished|any luck|(come|came) in yet|in yet|(got|been) put in|hows it (lookin|looking|going) with|good time (for me )?to come get|have (the car|it|my car) back by|did it (go through|pass)|do you know yet|remind me what time|do you have me down|good to go|waiting on parts|where my (car|truck|van) is|when does my appointment|(get|got) the (\w+ )?(parts?|tires?) in\b|good to pick up|is it all set|did the \w+( \w+)? (get done|get fixed|work|come in|pass)|is my appointment still|am i still (down|on|booked|scheduled)|what time was i supposed to|which day did i|(find|found|figure out|figured out) (where|what|why)|(figure|figured) it out|if (it|my car|the \w+) is (done|ready|finished)|if (the|my) \w+ (is|are) (done|ready|finished)|checking on (my|the)|whats the holdup|(nobody|no one) can tell me|(isnt|is not) ready by|did (you|you guys|yall|anyone|somebody) (get to|look at|start on|get a chance)|how much longer|(ready|fixed|done|finished)\b[\w ]{0,30}\bis it$|is it not (done|ready|finished)|(come|stop) by [\w ]{0,20}(get|grab|pick up) (my|the) (car|truck|van)|taking (forever|(way |so |too )+long)|still not (done|ready|fixed|finished)|whats the latest (on|with)|what (day|time) is my|whats happening with|verdict|find out what|did (you|you guys) (get a chance|find|figure)|did the \w+ pass|when will (my|the|it) \w* ?be (done|ready|finished)|whens my appointment|when is my (next )?appointment|what (day|time) (did i|am i|do you have me|did you have me)|am i (on the schedule|booked|down)|do i (still )?have (an appointment|something|anything)|when im booked|whats taking so long|is it (ready|done) yet|is (she|he) (done|ready|finished)|(parts?|tires?)( for my \w+)?( ever)? (show|showed|come|came) (up|in)|what did (they|you|you guys|the mechanics?) find|(itll|will it|it will) be (done|ready|finished)|(making sure|double check\w*|confirm\w*) (you|yall) (got|have) me|come by [\w ]{0,25}to (get|grab|pick up) (it|her|him)|did (they|it|the \w+|the parts|my \w+) (show up|come in|arrive)|supposed to (hear|get a call) back|when do you think (it|they|the part|the parts) (comes?|gets?|will (come|get)) in|(did|has) (somebody|someone|anybody|anyone) (grab|start|look|get to|touch)|my (appointment|inspection|oil change|alignment|rotation|brake job) is (on |for )?(the \d{1,2}(st|nd|rd|th)|monday|tuesday|wednesday|thursday|friday|saturday|tomorrow)\b[\w ]{0,20}\bright)\b",
                Some(r"\bany update on (what|how much)\b"),
            ),
        ),
        (
            Intent::PricingInquiry,
            d.add(
                r"\b((is|are) (gonna|going to) run( me| us)?|what (a|an|the) [\w ]{1,25} runs (these days|nowadays|now|for|about)|how much|charge extra|price|prices|pricing|priced|cost|costs|quote|estimate|charge for|charging|what (do |would |will )?(you|yall|you guys) charge|charge by the (job|hour)|runs for|under \d+ ?(dollars|bucks)?$|(beat|match) (that|their|the) (price|quote)|can you beat that|anything cheaper|pricey|rip off|whats the damage|run me\b|do (you|yall)( guys)? (take|accept|honor) (the )?[\w ]{0,15}discount|(\d+ (dollars|bucks)|hundred( dollars| bucks)?) for|what do (you|yall|you guys) (get|want|ask) for|what (are we|am i) looking at|(thats|that is) (a lot|too much|pricey|kind of pricey|steep)|do any better|hows much|rates?|ballpark|expensive|cheap|cheapest|affordable|what does it run|(does|do|would) \w+( \w+)? run|set me back|whats (a|an|the) [\w ]{1,20} run|run these days|specials?|deals?|coupons?|discounts?|fee|bucks|dollars|seems high|steep|go for these days|what do [\w ]{1,20} go for|what would it be|match [\w ]{1,20} prices)\b",
                Some(
                    r"\b(you|yall|they) (charged|billed) me( [\w ]{0,30}?\b(dollars|bucks))?\b|\b(dont care|not asking|was gonna ask|was going to ask|called about|asked about) (about )?(what it costs|the price|how much|prices|the cost)\b|\bpricey last time\b|\bmanager special\b|\bquote was\b|\bgood deal\b|\b((no|not a|not that) big deal)\b|\b((dont|do not) have a coupon)\b|\b(pricey but (ok|okay|fine|alright|thats fine))\b",
                ),
            ),
        ),
        (
            Intent::ScheduleAppointment,
            d.add(
                r"\b(schedule|book|booking|whats open|can (you|yall|you guys) (fix|look at|replace|patch) (the|my|it|her|him|that)|make an appointment|an appointment|set up|come in|bring (it|her|him|my \w+|the \w+) in|drop (it|her|him|my \w+|the \w+) off|get (it|her|him|my \w+|the \w+) in|availability|available|openings?|what do you (have|got) (open|available)|time slots?|fit me in|squeeze me in|get me in|put me (down|in) (for|at|on)|pencil me in|sign me up|go ahead and book|leave (the|my) (car|truck|van) with you|do you have [\w ]{1,25} open|(could|can) (you|yall|you guys) do (the|my|a|an) \w+( \w+)? (on|at|for|tomorrow|today|this|next))\b",
                Some(
                    r"\b(opening hours|already (have|booked|scheduled)|before i (schedule|book)|thinking about booking)\b",
                ),
            ),
        ),
        (
            Intent::GeneralInquiry,
            d.add(
                r"\b(will (it|she|he) (still )?pass|pick up the (car|truck|van) for me|(coworker|wife|husband|son|daughter|friend|brother|sister|neighbor|buddy|dad|mom) (is gonna|is going to|will|can|could) (come )?(pick|get) (it|the car|the truck|the van|my car|my truck) up|(coworker|wife|husband|son|daughter|friend|brother|sister|neighbor|buddy|dad|mom) (is gonna|is going to|will|can|could) (come )?pick up|do (you|yall|you all)( guys)?( even)? (do|work on|service|fix|handle|take|accept|offer|sell|use|carry|stock)|where (do|should|can) i (leave|drop|put) (the )?keys|show up|call ahead|(my|your) own parts|where is (the shop|your shop|it located|the place)|registration|(where|somewhere) (to|do i|can i) park|how many (hours|days) (till|until|before|will it take|does it take)|bus stop|train station|(you guys|yall|you) work on|pick ?up and delivery|coffee shop|near you|certified|ase\b|a ride there|bring my dog|dog in the|pets? allowed|pet friendly|should i bring|charge my (tesla|car|ev)|charger|number to call|cross street|what street|is (that|it|this) covered|come (get|pick up) my (car|truck|van)|can you (guys )?work on|where are you|address|located|location|directions|best way to get|loaner|shuttle|warranty|wait (for it|while)|waiting room|how long (does|will|would|is|for)|question|credit cards?|financing|payment plan|tow|towing|drop box|key drop|oem|your number|reviews?|parking|walk ins?|pay (with|by)|website|triple a|aaa|approved|(drops?|dropping) (the|my) (car|truck|van) off for me|how long (do|does) [\w ]{1,25} last|do i need to bring|drive me (home|back)|give me a ride|a ride (home|back)|keys? in (a|the) (box|slot)|drop the keys|where (do|should|can) i park|is it (legal|safe|ok|okay) to drive|wait (there|here)|are you the (shop|place|1)|next to the|what (does|do|would) (a|an|the|your) [\w ]{1,25} (include|come with|consist of)|whats included|what (all )?(is|comes) included|^(you|yall|you guys) (do|work on|fix|service|handle|take|sell|carry|offer) [\w ]{1,30} right$)\b",
                Some(r"\b(same address|(the )?number to call (me )?back is)\b"),
            ),
        ),
    ],
    legal: d.add(
        r"\b((youre|you are|yall are|you guys are|your shop is) liable|(im|were|we are|i am) stopping payment on (that|the|this|your) (check|bill|charge|payment)|(calling|call|called) (visa|mastercard|amex|american express|discover|my bank|the bank|my card company|my credit card company) to (reverse|dispute) (it|the charge|the payment|that charge)|(im|i am|were|we are|ill be|i will be|gonna be) disputing (the (whole |entire )?|this |that |your )(\w+ )?(charge|bill)\b|disputed (the|this|that) (whole |entire )(charge|bill|payment)|consider (that|the|this) check stopped|i stopped (the|that|my) check|(reversing|reverse|revers\w+) the (whole |entire )(charge|payment)|stopped payment|(expect|receive|receiving|be served( with)?|served( with)?)( some)? papers from the (county )?(courthouse|court)|(named|name you|naming you) in (the|a|my) (suit|lawsuit)|be filing (a |an )?(suit|lawsuit|complaint|charges|papers|against)|be filing [\w ]{0,15}\bif you|litigation|litigate|for my case$|for my case just|my case against|building a case|my law firm|family has a law firm|(my|our) solicitor|law suite|hear from (legal|my lawyer|our lawyer)|d as office|courts? involved|lawyers?|(my|our) (legal )?counsel|(county|district|civil|traffic) court is|stop payment|charge ?back|(reversing|reverse|revers\w+) the (payment|charge)|lemon law|know my rights|legal aid|before (we|i) file|filed (a |the )?(police )?report|(disput\w+) (the|this|that) (hole |whole |entire )?(\d+ (hundred |thousand )?(dollar |buck )?)?(charge|bill|payment)|attorneys?|a turney|law suit|small clams|consumer affairs|drafting a letter|demand letter|(get|be|getting) served|(pay|answer) for (it|this|that) in court|see (you|yall|you guys|ya) in court|report(ing)? (this|the|your|you) ((shop|place|garage) )?to (the )?(state|bbb|better business|consumer|attorney|licensing|dmv|board)|report (this|the|your) (shop|place|garage) to|(the state|the city|the attorney general) (is|will be|are) (gonna|going to) hear|((gonna|going to|will|ill|to|and|could|should|might|can|wanna|want to|have to|gotta) )sue|sue (you|yall|ya|the shop|your|this|them|him|her|for|over|if)|suing|sued|lawsuit|legal action|(take|taking|took) (you|yall|this|it|your \w+) to court|filing suit|file suit|lawsuit papers|(going|goes|go) to court|see you in court|small claims|better business bureau|bbb|report (you|this|your shop) to|consumer protection|attorney general|pursu\w* (damages|legal|this|it|charges)|(file|filing|lodge|lodging|submit\w*) (a |an )?(formal )?(claim|complaint) (against|with (the )?(state|attorney|licensing|consumer|bbb|better))|claim for the damage (you|yall)|formal complaint|licensing board|legal (counsel|team|department|action)|in court|(dmv|state|attorney general|news|media|channel \d+) (is )?(gonna|going to|will) (hear|find out)|this is fraud|(my|our) (legal|lawyers?|attorneys?) (will|are gonna|is gonna|are going to)|(a|the) (judge|magistrate|mediator)|(state |licensing )+board (is )?(gonna|going to|will) (hear|find out)|handles? (these|this|those) (kinds? of )?cases|arbitration|law office|the legal way|press\w* charges|(call|calling|make) (the )?(police|cops)|(make|file|filing) (the |a )?(police )?report|thats theft|seeking damages|filing for damages|disputing the charge|for (the|my) (claim|filing)|in writing for|formal notice|business licen[cs]e number|insurance carrier|to (the )?court\b|(this|that|it) is fraud|flat out fraud|(dispute|disputing) (it|this|the charge|the charges|the whole charge|the bill|the payment)|(reversing|reverse|reversed) (the|that) (whole )?(charge|payment|transaction)|and (hes|shes|he is|she is|theyre) ((gonna|going to) be )?(real |very |really )?interested in (how|what|why) (you|yall|your (guys|shop|mechanics?))( guys)? (handled|did|treated|messed|broke|botched|charged|wrecked)|(cant|can not|cannot) (legally )?hold my (car|truck|van|vehicle) hostage|(my|our) a tourney|dispute (the|your|that|my) (deposit|charge|last charge|bill|payment) with (my|the) (credit card|card|bank)|disput(e|ed|ing) (it|that|this|the|your|my)( \w+){0,2} with (my|the|our) (bank|credit card|card|visa|mastercard|amex)|disputed (the|your|that|my) (last )?(deposit|charge|bill|payment) with (my|the) (credit card|card|bank)|stopping payment on the (deposit|charge|bill)|not to honor (that|the|your) (charge|payment|check)|(told|asked|telling|having) my (bank|card company|credit card company) to stop (the|that|my) (check|payment)|(my )?(bank|card company|credit card company) (already )?(has|opened) a dispute (open )?(for|on|about) (it|this|that|your|the (charge|bill|repair|invoice|payment|work))|(goes|go|going) to my (bank|card company|credit card company) as a disputed charge|(report\w*|complain\w*|fil\w*|call\w*|contact\w*|writ\w*)( (you|yall|you guys|this shop|your shop|this|it|a complaint))? (to|with) the federal trade commission|(or )?the federal trade commission (is|will|are|gets) (gonna |going to )?(hear\w*|find out|gets?|a letter)|(reporting|report) (this station|this shop|your shop|you|yall|you guys) to the state|(youll|you will|youre gonna|you are gonna|you are going to) (be )?hear(ing)? from (him|her) in writing|(youll|you will|youre gonna|you are gonna|you are going to|yall will|you guys will|you guys are gonna) (be )?(get(ting)?|receiv(e|ing)) (some )?paperwork from the county|expect (some )?paperwork from the county|(you|yall|you guys) (dont|do not|wont|will not) have a leg to stand on|(you|yall|you guys) (have|got) no leg to stand on|(the|to the|with the|and the) b b b|report(ed|ing)? (you|yall|you guys|your shop|this shop|your place|this place) to (the )?(dmv|state|attorney general|attorney generals|bbb|better business bureau|consumer|police|cops|county|city|department|board|ftc|federal)|(card company|credit card company|bank|visa|mastercard|amex) is (already )?looking into (the|this|that|your) charge|(drafting|drawing up) (something|a letter|a complaint)|disputed (it|the charge|this|that|the bill) with (visa|mastercard|amex|american express|discover|my bank|the bank|my card company|my credit card( company)?)|(ill be|im|i am|i will be|gonna be) calling my (credit card company|card company|bank) about (this|your|that) charge$|case number from (visa|mastercard|amex|american express|discover|my bank|the bank|my card company) (for|about|on) (your|this|the) charge|(contacted|called|wrote to|emailed|filed with) the (state|attorney general|attorney generals office|bbb|better business bureau|consumer protection\w*) about (you|yall|you guys|your shop|this shop)\b|(a|my) complaint (in )?with the better business (people|folks)|(visa|amex|mastercard|discover|the bank|my bank|my card company|the card company|my credit card company) (is|are) (reversing|charging back|pulling back|clawing back) (it|the charge|your charge|that charge|the payment)|and flagged your [\w ]{0,30}?charge|(opened|filed|open|file) (a|an) (claim|dispute|case|fraud claim) (about|against|on) (you|yall|your shop|your charge|you guys)|(called|call|calling) (visa|amex|mastercard|discover|chase|my bank|the bank|my card company|my credit card company) and (opened|filed|started) (a|the) (dispute|chargeback|claim (on|against|about|for) (you|yall|your|the charge|this charge|that charge))|(im not|i am not|im not gonna be|i refuse to|i wont|i will not|im not going to|im not gonna) pay(ing)?\b[\w ]{0,40}?\b(be calling|calling|call|contacting|contact) my (credit card company|card company|bank)|disputed (it|the charge|that|this|your charge) with (chase|citi|capital 1|wells fargo|bank of america|my bank|the bank|amex|discover|mastercard)|(im|i am|ill be|i will be|gonna be|going to be) reporting (you|yall|you guys|your shop)( too| as well)|(ill|i will|im gonna|im going to) report (you|yall|you guys|your shop)( too| as well))\b",
        Some(
            r"\b(had to )?stop(ped|ping)? payment on a check to (my|our) (contractor|roofer|landlord|plumber|builder|painter|electrician)\b|\bbetter business bureau gives you an? (a plus|good|great)|\bdisputing the (tow|towing|hotel|rental|insurance|phone|cable|doctor|hospital|gym|parking) (charge|bill)\b|\bmy (lawyer|attorney) (told|said|advised)( me)? to (get|grab|ask for|request) (a )?cop(y|ies) of (the|my) (invoices?|estimates?|receipts?|repair bills?)( for (the|my) (insurance|accident|claim))?$|\bmy (lawyer|attorney) is (gonna|going to) (grab|pick up|drop off|bring) (the|my|his|her) (car|truck|van|keys)\b|\bmy (lawyer|attorney) says i need a written (estimate|quote) for (the|my) (insurance|claim)\b|\b(buddy|friend|brother|neighbor|dad|cousin|sister|uncle)s? threatened to sue the (dealer|dealership|other driver|other guy)\b|\b(not|never) disputing\b|\b(bank|card company) is stopping payment on (my|a|the) (lost|stolen)\b|\b(not|never|wont be) stopping payment\b|\bwants to be an? (lawyer|attorney)\b|\b(other drivers|the other guys|other partys) (insurance )?(lawyer|attorney)\b|\b(a plus|good rating|great rating|good reviews?|great reviews?) (with|from|on|at) the better business bureau\b|\b(my )?(ex|ex wife|ex husband|wife|husband|landlord|neighbor|tenant|the other driver)s? (is |are )?suing me\b|\bshould sue (the|that) (dealer|dealership|seller|guy who sold|lady who sold)\b|\bnot an? (lawyer|attorney)\b|\b(saw|heard|read)( about)? (a|the) (lawsuit|law suit)( thing)? on the news\b|\b(neighbor|buddy|friend|brother|sister|cousin|coworker|dad|mom|uncle|aunt)s? sued (the|his|her|their) (dealer|dealership|last|old|other)\b|\bmy (daughter|son|wife|husband|brother|sister|dad|mom|cousin|uncle|aunt|neighbor|friend|buddy)s? (is )?an? (lawyer|attorney) and (she|he) (always )?(says|said) (always|to always|i should always|you should always) get\b|\b(lawyers|attorneys) (paralegal|assistant|secretary) (will|is gonna|is going to) (bring|be bringing|drop|be dropping|pick|come)\b|\b(my|our) legal department (handles|takes care of|does) (our|the|all our|all the) (fleet|contracts?|paperwork|invoices|leases)\b|\b(my|a) lemon law case with (the|a|my) (dealer|dealership|manufacturer)\b|\bmy (lawyer|attorney) (told|said)( me)? (to get|i need|i should get)[\w ]{0,20}\b(inspection|inspected|sticker|checked)\b|\bsuing the other (driver|drivers|guy|party|person)\b|\b(on the phone|meeting) with my (attorney|lawyer) all (morning|day|afternoon)\b|\b(work|works|working) (at|for) the d as office\b|\b(tried|trying|threatened) to sue me\b|\b(daughter|daughters|son|sons|wife|wifes|husband|husbands|sister|sisters|brother|brothers|dad|dads|mom|moms|friend|friends)( is)? a judge\b|\blawyer (shows?|movies?|tv)\b|\b(my (wife|sister|mom|mother|daughter|friend|aunt|neighbor)|name is|names|this is|its|im|and|with) sue\b|\bpower of attorney\b|\b(should|could|gonna|going to|wanna) sue the (pothole|potholes|city|town|state|weather|road|roads|weatherman)\b|\bthe (lawyer|attorney) (down the street|next door|i know) (said|says|told)\b|\bmy (lawyer|attorney) recommended\b|\bmy (lawyer|attorney) is handling\b|\bname sue\b|\b(im|i am) an? (lawyer|attorney)\b|\b(boss|wife|husband|sister|brother|dad|mom|friend|buddy|bosses) is a (lawyer|attorney)\b|\b(bosses|boss) car hes a lawyer\b|\b(work|works|working) (at|for) a law firm\b|\b(lawyers|attorneys) office\b|\bsue (said|here|from)\b|\b(buddy|friend|neighbor|coworker) sue\b|\bmy (lawyers|attorneys) (car|office|assistant|secretary|wife|husband|kid|truck|van|bmw|building)\b|\b(meet|meeting|appointment) with my (lawyer|attorney)\b|\b(lawyer|attorney) i work for\b|\b(buddy|friend|brother|dad|father|uncle|cousin|son|sister|mom|mother|neighbor) (whos|who is|thats) an? (lawyer|attorney|paralegal)\b|\breviews? on [\w ]{0,30}(better business bureau|bbb)\b|\b(boss|bosses) the (lawyer|attorney)\b|\b(son|daughter|brother|sister|dad|father|mom|mother|wife|husband|friend|buddy|cousin|uncle|aunt|neighbor)( in law)?( the| is a| is an| whos a| whos an|s a|s an) (lawyer|attorney)\b|\b(lawyer|attorney) (friend|buddy|neighbor|cousin)\b|\bmy (lawyer|attorney) (scheduled|has me|set up|booked)\b|\bsued (his|her|their) \b|\bworks? (at|for) the (better business bureau|bbb)\b|\b(stuck|be|sitting|waiting) at my (lawyers|attorneys)\b|\b(with|to) my (lawyer|attorney) about (the|my|a|our) (house|closing|divorce|accident|will|estate|custody|ticket|case|lease|settlement|insurance|mortgage|business)\b|\bmy (lawyer|attorney) (says|said) i (have|need|gotta|got) to be in court\b|\b(better business bureau|bbb) (site|website|page)\b|\b(suing|sue|sued|suit against) (the|her|his|their|my|our) (city|town|state|landlord|county|employer|ex|insurance|neighbor|contractor|builder|tenant|company|boss)\b|\bgot sued\b|\b(drive|take|bring) (her|him|them|my \w+) to court\b|\bmy (divorce|real estate|estate|immigration|injury|personal injury|tax|family) (lawyer|attorney)\b|\b(lawyer|attorney) (handling|for) (my|the|our|his|her)\b|\b(lawyer|attorney) (needs|wants|asked for|asked me for) (a|an|the|me) ([\w ]{0,20})?(estimate|quote|invoice|receipt|report|there|to be there)\b|\b(almost|nearly|once|should have|shoulda) sued\b|\bsmall claims (thing|case|court) (was|is) with\b|\b(dad|father|mom|mother|uncle|aunt|grandpa|grandma|brother|sister)( is| was)? an? (retired |former |real )?(lawyer|attorney|paralegal)\b|\bin court (all|this|that|tomorrow|today|on|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(have to|gotta|got to|need to|supposed to) be in court\b|\bcourt (date|appearance)\b|\b(attorney|lawyer) (actually )?(recommended|referred|sent)\b|\b((lawyer|lawyers|attorney|attorneys|law office|legal) (appointment|appt))\b|\b((neighbor|friend|buddy|cousin|brother|sister|coworker) sued (the|his|her|their) (last|other|old|previous) (shop|mechanic|garage|dealer|place))\b|\b(my (attorney|lawyer) (uses|recommended|referred|goes to|takes (his|her) car to) you)\b|\b((dont|do not|not) (want to |trying to |going to |gonna )?dispute)\b|\b((dont|do not) want to sue (anybody|anyone|nobody)|i sued my (old |former )?(landlord|contractor|employer|ex|neighbor|boss)|almost (took|taken|take) (him|her|them) to (small claims|court)|mad at (his|her|their) (lawyer|attorney)|(ex|daughter|son|wife|husband|kid|landlord|neighbor)\b[\w ]{0,30}\b(take|taking|drag|dragging) me to court|never ?mind (about )?disputing|told my \w+( \w+)? (id|i would|im gonna|i was gonna) sue (him|her)|(is|was) suing (his|her|their) (contractor|landlord|employer|ex|neighbor|boss)|law (office|firm) of [\w ]{0,30}\b(we need|need to|to schedule|to book))\b|\b(my (lawyer|attorney) (said|says) the accident|my (lawyer|attorney) told me you guys are the best|hold on[\w ]{0,20}\b(thats|its) my (lawyer|attorney) on the (other )?line|who hit me (is|was) getting sued|needs? (his|her|the|my) (truck|car|van) to get to court)\b|\b((work|working) at (the|a) law (office|firm)|(shes|hes) a lawyer now|passed the bar|my (lawyer|attorney) (actually )?told me about you|(a plus|good|great) rating with the better business bureau)\b|\b(if (my|the|your|his|her) (car|truck|van|vehicle) could sue)\b|\b(small claims [\w ]{0,20}with (our|my|the) (old |former |ex )?(landlord|tenant|neighbor|contractor|roommate|ex|roofer|plumber|builder|painter))\b|\b(my (lawyer|attorney) wants to meet (at|around|on|tomorrow|today|this|monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b|\b((go|going|have to go|got to go|gotta go) to court (over|for|about) (the|a|my) (speeding |parking |traffic )?(ticket|citation))\b|\b((im|i am|ill be|i will be|hes|he is|shes|she is) in court (at|tomorrow|today|all day|until|till|this))\b|\b((already paid|paid (with|by|on) (my |a |the )?(card|cash|credit card|debit))\b[\w ]{0,30}\b(told|asked) my (bank|card company|credit card company) to stop (the|that|my) (check|payment))\b|\b(to stop (the|that|my) (check|payment) on (my|a|the) (lost|stolen|old|missing))\b|\b((tow|towing|rental|hotel|insurance|dealer|dealership)\b[\w ]{0,40}\bgo(es|ing)? to my (bank|card company|credit card company) as a disputed charge)\b|\b(small claims( hearing| case| court)? (against|with) (my|the|our) (landlord|tenant|contractor|ex|neighbor|roofer|plumber|builder|roommate|ex wife|ex husband))\b|\b((sister|brother|mother|father|son|daughter|cousin|uncle|aunt|wife|husband)( in law)? is a (judge|lawyer|attorney|paralegal) (lol|haha|anyway|and (she|he) (said|says|recommended)))\b|\b(chargeback (on|with|against) the (tow|towing|rental|hotel|airline|gym|phone|cable))\b|\b((complained|went|wrote) to the (bbb|better business bureau)( last year| last month| before| once)? about (a|my|the|our) (contractor|roofer|landlord|plumber|builder|dealer|moving company|\w+ company))\b|\b((somebody|someone|a guy|a lady|they) said (they|he|she) (called|reported|went to|complained to) the (bbb|better business bureau))\b|\b(my (lawyer|attorney) is (picking up|grabbing) (the|my) (car|truck|van|keys|vehicle))\b|\b((bbb|b b b|better business bureau) (gave|gives) (you|yall|you guys) an? (a plus|good|great))\b|\b(my (lawyer|attorney) (needs|says i need|wants|asked for|told me to get) (a copy|copies|the repair records|records|the invoice|my invoice)\b[a-z ]{0,40}\b(the accident|my accident|the crash|the other driver))\b|\b((disputed|disputing) the charge with the (other|last) (shop|place|garage|dealer))\b|\b((other|last) (shop|place|garage|dealer|dealership)\b[a-z ]{0,60}\btaking them to small claims)\b|\b((bbb|better business bureau) about the (dealer|dealership|other shop|other place|contractor|landlord))\b|\b(the judge was ((really|actually|super|so) )*(nice|cool|understanding|fair))\b|\b((lawyer|attorney)( meeting)?( \w+)? (for|about) (the|my|our) (divorce|custody|will|estate|closing|house))\b|\b((divorce|custody) (lawyer|attorney) (for|about|handling|at|meeting|appointment))\b|\b((my|our) case against (the other driver|the other guy|the driver|my ex|my landlord|the insurance|the city|the county|my employer|the trucking company))\b|\b((sue|suing|sued) (the|that) (guy|lady|driver|person|woman|man|other driver|kid|idiot) (who|that) (hit|rear ended|backed into|sideswiped|crashed into|ran into) (me|us|my (wife|husband|son|daughter|kid|mom|dad)))\b|\b((brother in law|sister in law|father in law|mother in law|dad|mom|father|mother|uncle|aunt|cousin|neighbor|friend|wife|husband|son|daughter|brother|sister|grandpa|grandma)( \w+)? (is|was) (a|the) judge and (he|she) (swears by|recommended|referred|loves|likes|uses|sent))\b|\b(the judge gave me (until|till|a week|\d+ days))\b|\b(reported (the|my) (last|other|old|previous) (shop|mechanic|place|garage|dealer|dealership) to the (bbb|better business bureau|state|attorney general))\b|\b((last|other|previous|old) (place|shop|mechanic|garage|dealer|dealership)( (?:[a-xz0-9]\w*)){0,10}? reported (them|him|her) to the (bbb|better business bureau|state|attorney general))\b|\b(((other|last|previous|old) (shop|place|mechanic|garage|dealer|dealership)|gym|tow company|towing company|hotel|airline|somebody used|someone used|stolen|fraud\w*)( (?:[a-xz0-9]\w*)){0,12}? (disputed (it|that|the charge|this) with (visa|amex|mastercard|discover|chase|capital 1|citi|wells fargo|bank of america|my bank|the bank|my card company|my credit card company)|(called|call|calling) (visa|amex|mastercard|discover|chase|capital 1|citi|wells fargo|bank of america|my bank|the bank|my card company|my credit card company) and (opened|filed|started) (a|the) (dispute|claim|chargeback)))\b",
        ),
    ),
    manager: d.add(
        r"\b((speak|talk) (to|with) (the 1|someone|somebody|anyone|anybody)( over there| there)? who (actually )?knows what (theyre|they are) doing|(somebody|someone|anybody|anyone) in charge|(who is|whos|anybody|anyone|somebody|someone|thats) above you|((speak|talk) (to|with)|(get|put)( me)?) the (big cheese|head honcho|top dog)|who handles complaints|(someone|somebody|anyone|anybody|a person) with (some )?(actual |real )?authority|(who is|whos) above you|(hear it from|talk to|speak to|speak with|talk with|put on|get me) the (guy|person|lady|man|woman|1|fella) in charge|your higher ups?|(talk|speak) (to|with) the higher ups?|whoevers in charge|(talk|speak|go over [\w ]{0,25}) with (an|a) (service )?advisor|(get|give|put|want|need) (me )?(someone|somebody|anyone|anybody) (from|in) management|(talk|speak) (to|with) (someone|somebody|anyone|anybody) (from|in) management|get me management|escalate (this|it|me)|to (someone|somebody) senior|(get|put|give) me your boss|(anybody|anyone|somebody|someone) there i can (talk|speak) (to|with)|like a (real|actual|live) person|whoever can (actually )?(do|help|fix) (something|anything)|put \w+ on the (phone|line)|(is|get) \w+ there [\w ]{0,20}put \w+ on|head honcho|big boss|whoever (signs off|approves)|^(0 ){2,}0$|^(zero ){2,}zero$|(somebody|someone|anybody|anyone|person|guy) higher up|(someone|somebody|anyone|anybody) (there|over there) who (can|could) (actually )?(book|schedule)|manager|manger|supervisor|owner|operator|proprietor|(person|someone|somebody|1) who makes the decisions|patch me (through|thru)|connect(ed)? (me )?(to|with) (the|a|an|someone|somebody|a person|a human|the actual|an actual)|(someone|somebody|a person|anyone|anybody) (that|who) (actually )?(works there|knows cars|knows what)|answering service|not the computer|person not (a )?machine|(need|want) (him|her) not you|get me the (guy|lady|person|fella|man|woman) (that|who)|(fella|guy|man|woman|lady|person|mechanic|tech) (that|who) (actually )?worked on|(actual|real) mechanic on the phone|^agent\b|agent please|customer service please|(actual|real) (employee|mechanic|staff|worker)|head mechanic|who is the boss|whoever handles complaints|(speak|talk) (to|with) (1 of )?(the|your) service advisors?|(my|an|the) advisor call me|(somebody|someone|a person) (from the shop )?(to )?call me back|with a person|i need a person|(give|get) me a person|(get|give|put) me (someone|somebody) who|(someone|somebody) who (knows|can book|does|understands|can actually)|(someone|somebody|anyone|anybody) (i can|to) (talk|speak) to|person at the (counter|desk|front)|service advisor|service writer|(talk|speak) (to|with) (a |an |your )?(advisor|adviser)|front desk|someone in charge|person in charge|(real|live|actual) (person|human|people|agent|body)|human being|(talk|speak) (to|with) (a |an |some )?(human|person|someone|somebody|agent|representative|rep)|a human|not a (robot|machine|bot|computer)|transfer me|put me through|representative|whoever is in charge|whoever runs (the|this) (place|shop)|put a (person|human|real person) on|put (somebody|someone|a person|a human) on\b|service desk|with a pulse|foreman|(somebody|someone|anybody) (live|real)|(talk|speak) (to|with) (the|your) boss|hand me (off )?to (somebody|someone|a person)|(talk|talking|speak|speaking) (to|with) (1 of )?(the|your) mechanics?|mechanic [\w ]{0,30}(get|come|hop) on the phone|(someone|somebody) who (actually )?works on|not a recording|put (your|the) (boss|mechanic|manager|supervisor) on|put an? (mechanic|tech|technician|manager) on|(whos|who is) in charge|(anybody|anyone|somebody|someone) above you|up the chain|i want an? (actual |real |live )?(person|human)|get me (someone|somebody|a human)$|press(ing)? (0|zero)|a person please|(somebody|someone|anybody|anyone) with (some |any )?authority|(not|stop) (talking|talkin) to (a|this) (machine|robot|bot|computer)|(actual|real|live) person|(dont|do not|wont|not) (want to |going to |gonna )?(talk|speak|talkin) (to|with) (a|the|this) (computer|machine|robot|bot|recording)|not the (automated|recording|robot|machine)|get me off (this|the) (thing|machine|robot|bot|recording)|automated (thing|system|voice)|(with|to) (a|this) robot|this robot|(talk|speak|talking) (to|with) (the|your) (tech|technician|mechanic|guy|lady|person|fella|man|woman|1) who|(mechanic|tech|guy) who [\w ]{1,40} on the phone|who (runs|owns) (that|the|this) (place|shop|service department|department)|whoever runs|(fella|guy|man|woman|lady) who owns|(lead|head) (mechanic|guy|tech)|hand me (over )?to \w+|account rep|put (them|him|her) on\b|who (can|could) (i|we) (talk|speak) to|(is there|i need) a person (i can|to) (talk|speak)|(someone|somebody|anyone|anybody) with (the |some |any )?authority|(talk|speak) with the people|(living|breathing) (breathing )?person|(whos|who is) the boss|(someone|somebody) who (actually )?works (there|here)|una persona|(somebody|someone) at the (desk|counter|front) (to )?(pick up|answer)|(guy|person|lady) (out front|at the front)|whoever (owns|manages) (this|the) (place|shop|joint|business)|(have|get|tell) the (boss|owner|manager) (to )?call me|i want (him|her|them) on the (line|phone)|can you (get|grab|find) (him|her) for me|(get|give) me an? (service )?advisor|(speak|talk) (with|to) whoever manages|(in|there) i dont want to (deal|talk) (with|to) (anybody|anyone) else|is [a-z]+ (in|there) let me (talk|speak) to (him|her)|(want|need|like) to have a word with (the|your) (manager|owner|boss|mechanic|tech|service manager)|is( mister| mr| miss| mrs| ms)? [a-z]+ (in|there) i (want|need|would like|wanna) to (talk|speak|have a word) (to|with) (him|her)|(give me|get me) the owners (name|number|phone|cell)|^i want the owners (name|number)|(can|could) (i|you|we) (get|put) [a-z]+ on the (line|phone)|(can|could) you put [a-z]+ on (hes|shes|he|she)|(need|want|have|got) to (talk|speak) (to|with) [a-z]+ (he|she) (did|worked on|fixed|looked at|handled|said|told)|(talk|speak) (to|with) whoever (is|was) (working|doing|handling|fixing)|is( mister| mr| miss| mrs| ms)? [a-z]+ (in|there)( today)? i (want|need|would like|wanna|have|got) to (talk|speak|have a word)|(want|wanna|need|like to) (speak|talk) (with|to) (people|a people|real people|human people)|(i need|get me|put me through to|let me talk to) whoever (can|handles|does) (set up|open|handle)|is( mister| mr| miss| mrs| ms)? [a-z]+ (in|there|around)( today)? (he|she) (handled|worked on|did|fixed|knows|looked at|said|told)|(get|put) [a-z]+ the (mechanic|tech|technician|advisor|guy) on the (line|phone)|(talk|speak) (to|with) [a-z]+ about (my|the) [\w ]{1,20}?\b(he|she) (said|told|promised)|(a person|a human|someone|somebody|anybody|anyone) (who|that) can (look up|pull up|access) (my|the)|(want|need) (that|this) person$|who do i (talk|speak) to about (getting )?(my money back|a refund)|(can i|could i|let me) (get|talk to|speak to|speak with) the (lady|guy|man|woman|person|fella|gentleman) (i|we) (talked|spoke) (to|with)|(speak|talk) (to|with) [a-z]+ (hes|shes) the (1|guy|lady) (who|that) (worked on|did|fixed|looked at|quoted|handled)|is [a-z]+ (around|in|there) i (need|want|wanna|gotta|have) to (ask|talk to|speak to|speak with|talk with) (him|her)|(get|put) (whoever|whoevers|the person who|somebody who|someone who) (does|handles|is in charge of|runs) [\w ]{1,20}?on the (line|phone)|(talked|spoke) (to|with) (some|this|a|an|the) [\w ]{0,30}?(guy|man|lady|woman|gal|fella|dude|person)\b[\w ]{0,30}?\bcan i (talk|speak) (to|with) (him|her)|(have|get) (the|a|your|1 of the|1 of your) (mechanic|tech|technician|mechanics|techs|technicians) (to )?call me|(get|want|need|like|request|give me|can i get|could i get)( me)? (a )?call ?back from (1 of )?(the|your) (techs?|mechanics?|technicians?|advisors?)|(connect|transfer) me (with|to) (her|him)|(like|want|need|get|have|put me through to|talk to|speak to|speak with) (someone|somebody|anyone|anybody) from management|is [a-z]+ still there i only want (him|her|[a-z]+) (looking|working|to look|to work|on it|doing)|is [a-z]+ (there|around|in) (the|hes the|shes the) (guy|lady|man|woman|tech|mechanic|1) who)\b",
        Some(
            r"\ba real mechanic to (look|check)\b|\b(lady|guy|gal|girl|person|man|woman) at the front( desk)?( last time)? (was|is) (super |really |so )?(sweet|nice|great|helpful|awesome|kind)\b|\b(the|my) owner of (the|my) (house|building|property|apartment|lot)\b|\b(dads?|moms?|brothers?|sisters?|uncles?|aunts?|wifes?|husbands?|friends?|neighbors?|cousins?) (is )?the owner of\b|\b(dont|do not) need to (talk|speak) (to|with) (a real person|a person|a human|anyone|somebody|a manager)\b|\b(dont|do not) (have|need) to transfer me\b|\b(used to be|i was) an? (service )?manager myself\b|\bthe (manager|owner) (there|over there) (was|is) (super |really |so )?(nice|great|sweet|helpful|awesome)\b|\b(dont|do not) (want|need|mean) to bother the (owner|manager|boss)\b|\bin charge of (our|my) (fleet|accounts?|billing|company cars|vehicles|trucks)\b|\b(not|dont|no need to) (trying to |want to |need to |gonna )?escalate\b|\btell (the|your) (manager|owner|boss) (thanks|thank you)\b|\b(this is|its|im|i am) the (manager|front desk) (at|of|for)\b|\bput (them|it) on (for me|my \w+|the (car|truck|van)|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|today)\b|\b(you|yall|you guys) (just )?put (them|it) on$|\bfront desk (close|closes|open|opens)\b|\b(the|my) service advisor (i|we) (talked|spoke)\b|\b(service )?manager (at|over at) (the|my) (dealer|dealership|bank|store|work|job)\b|\bwhos the owner (there )?now\b|\b(lady|guy|person|gal|girl) at the front desk (was|is)\b|\bknow (someone|somebody|anyone|anybody) who\b|\b(fleet|sales|company) representative\b|\b(hes|shes|he is|she is) the owner\b|\bis (this|that|it) an? automated (thing|system|voice|line)\b|\bthought (you|it) (was|were) a (real|live|actual) person\b|\b(no need for|no need to (get|call|bring|bother)|dont need|do not need|dont want|not asking for|without|no) (a |an |the |to (talk|speak) (to|with) (a |an |the )?)?(manager|supervisor|human|person|owner)\b|\bhuman resources\b|\bmanagers? special\b|\bowners? manual\b|\b(previous|last|original|1st|new|registered|former) owners?\b|\bowner of (the|this|my|that) (car|vehicle|truck|van)\b|\bim the owner\b|\b(my|our|his|her) (\w+ )?(manager|supervisor|boss)\b|\b(im|i am|as) an? (\w+ ){0,2}(manager|supervisor|owner)\b|\bthe (manager|supervisor|owner) (at|of|from) (my|his|her|their|our) \w+\b|\bthe (manager|owner) (took|handled|sorted|was)\b|\b(at|with|to) the front desk (yesterday|this morning|earlier)\b|\bleft (it|them|the keys|my keys) (at|with) the front desk\b|\b(the|your|a) (manager|supervisor|owner|front desk( \w+)?) (said|says|told|mentioned)\b|\bthe (manager|supervisor|owner) (at|from) (my|his|her|their) (work|job|office|company)\b|\bthe (manager|owner) (hooked|gave|cut|did|fixed|helped)\b|\bthe (manager|owner) (already )?knows\b|\b(is|was) a (manager|supervisor|service advisor|owner)\b|\bno need to (put me through|transfer me)\b|\b(fleet|office|store|project|property|account|sales|shift|branch|plant|facilities|operations) manager\b|\bgeneral manager (at|of|for|over at)\b|\b(im|i am) (the |a )?general manager\b|\bthe (manager|owner|supervisor)( over)? (at|from) (the|a|that) (other|tire|another|different|dealership|dealer|place|shop|store|garage)\b|\b(this is|im|i am) the owner\b|\b(service advisor|manager|owner|mechanic|supervisor) (called|texted|emailed|left)\b|\b(im|i am|as) the (manager|owner|supervisor) (at|of|for)\b|\bmanager of (this|the|my|our) (household|house|family)\b|\bis (this|that|it) an? (real person|robot|recording|machine|bot)\b|\b(told me|said) to ask for the manager\b|\bnot allowed to talk to the manager\b|\bare you a (real person|robot|bot|human|machine)( or (a )?(robot|bot|machine|recording|real person|human))?\b|\b((mom|dad|mother|father|wife|husband|sister|brother) always wants to (speak|talk) to the manager)\b|\b((was gonna|was going to|thought about|almost) ask(ing)? for (a|the|your) (manager|supervisor) but|(talked|spoke) (to|with) (the|your) manager (last week|yesterday|earlier|this morning|on \w+) and (he|she) said|(new|my|our) manager at (work|my job)|manager from my (company|work|job|office)|(would|will) (the|your) manager mind|belongs to the owner|owner of the (car|vehicle|truck)|hiring (a )?(service )?manager|thank (your|the) manager|is it true the owner)\b|\b(this is the (service |office |fleet |general )?manager (at|for|from|of)|(told|asked|called) the manager at)\b|\b(the manager over here wants)\b|\b((everybody|everyone|people|customers|folks) (loves?|likes?|raves? about) [a-z]+ at the front( desk)?)\b|\b((lady|guy|gal|girl|person|man|woman) at the front( desk)?( last time)? (was|is) (such )?a (sweetheart|doll|gem|sweetie|pleasure|delight|angel|sweet lady))\b|\b(the owner is (a )?(real |really |super |very |such a )?(nice|good|great|cool|friendly|honest|decent|sweet)( guy| lady| man| woman| person)?)\b|\b((get|put) (booked|scheduled|set|signed|it|this|that|everything|anything|something|pricing|prices|quotes?|estimates?|info|information|help|paid) on the (line|phone))\b|\b((says|said|told me) (i|we) should ask for (a|the) manager to get a (discount|deal|better price))\b|\b((talk|speak) (to|with) (you|yall|ya|them|it) about)\b|\bis (it|that|this|everything|anything|my car|my truck|the part|the car) (in|there|around)\b|\b((how much|what does it cost|cost) to put (them|those|these) on)\b|\b(the (old|previous|former|original) owner)\b|\b(the (guy|lady|man|woman|person|fella|gentleman) (i|we) (talked|spoke) (to|with) at the (insurance|dealer|dealership|body shop|bank|rental))\b|\b(who owns (the|this|that) (place|shop) (now|these days|nowadays) (is it|is that|are you|still|did))\b|\b((fella|guy|man|woman|lady|person) who owns (the|that|this) (place|shop) i (wanted|want|wanna|was hoping|would like) to (send|thank|mail))\b|\b((manager|owner|advisor)( there| over there)?( [a-z]+)? (was|is) (super |really |so |very )?(nice|great|helpful|awesome|kind|sweet|friendly)( last time)? tell (him|her) i said (thanks|hi|thank you))\b|\b((im|i am) (basically |kind of |sort of |actually )?(the |a )?(\w+ )?(manager|supervisor|owner)\b)\b|\b((hes|he is|shes|she is) (the |a )?(\w+ )?manager of (the|a) (\w+ )?(hotel|restaurant|bank|store|school|office|church|gym|bar|diner|plant|warehouse|apartments|building|course|club|team|motel|farm))\b|\b((friends with|knows|knew|related to|went to school with|plays golf with|goes to church with) the owner)\b|\b((no need to|dont need to|you dont have to|dont) (have|get) (the|a|your) (mechanic|tech|technician)s? (to )?call me|(have|get) (the|a|your) (mechanic|tech|technician)s? (to )?call me( back)? (when|once|as soon as|with the (total|price|quote)))\b|\b(tell (your|the) (service advisor|advisor|manager|owner|mechanic|tech)( [a-z]+)? (hes|shes|he is|she is) the reason)\b|\b((the )?attitude (your|the) (front desk|receptionist|service advisor|advisor|manager)( \w+)? (gave|had|has|showed|gives))\b|\b(owner of the (body|tire|paint|glass|muffler|detail|pizza|coffee) (shop|place))\b|\b((boy|kid|young man|young lady|fella|girl|guy|lady) at the front( desk)?( last time)? (was|is) (super |really |so |very )?(polite|friendly|patient|professional|sweet|nice|helpful|kind))\b|\b((talked|spoke) (to|with) the owner last (week|month|time) his name is \w+( i think)? and (he|she) (said|told|quoted|promised|offered|gave))\b|\b(ask for (a|the) manager [\w ]{0,40}?\bbut i (figure|figured|guess|think) you can)\b",
        ),
    ),
    anger: d.add(
        r"\b((this is|youre|you are|yall are|you guys are) the worst (run )?(outfit|shop|place|business)|(im|i am|were|we are|getting|i got) madder than|(you|yall|you guys|you people) are (a )?bunch of clowns|you clowns|yall clowns|done being (patient|nice|polite)|(this|this place|your shop|your service) is a disgrace|(its|it is|thats|that is) a disgrace$|(its|thats) a disgrace (how|the way) (you|yall|i)|(you|yall|you guys|you people) are a disgrace|(putting|posting|put|post) all of (this|it) (in|on|into) (a|my) review|(dont|do not) put me on hold again|had it up to here|reading (me )?(a|off a|from a) script|livid|what the (heck|hell) am i paying|am i (even )?paying (you|yall) for$|so tired of this|tired of this (crap|place|runaround|nonsense|garbage)|tired of this$|bull ?ship|bull ?crap|god ?dam|dam it|i swear to god|i swear if (you|yall|that|this)|done with (this place|you people|yall|you guys)|(no|just|please|can you|would you) stop talking|son of a (b|bitch|gun)|lost a customer|damn\w*|losing my patience|what a joke|not (open heart surgery|rocket science|brain surgery)|disgusted|expect an explanation|(busted|scratched up|dented|cracked) my|acting like (i|it was me)|even know what (youre|you are|yall are) doing|(is|are) wrong with (you|yall)|highway robbery|dammit|1 star|another robot|robot answering|real classy|thanks for nothing|great job guys|had 1 job|money back|garbage|never coming back|(taking|take) my business|going to the dealer|scratched my|damaged my|left grease|overcharged|charged me for|runaround|how you treat|stay calm|bs\b|(nobody|no one) (there |ever |over there )?(knows|listens|calls|picks|tells me (nothing|anything)|even said sorry|even apologized)|nobody (at your shop|at your place|here|there) knows what (theyre|youre|they are|you are|hes|shes) doing|stop transferring me|(been|keep|keeps|getting|get) (bounced|bouncing) (me )?around|(bounced|bouncing) me around|bounced \d+ times|stop asking me|(are|is) a joke|telling everyone|gonna scream|lose it|are you (even )?listening|the (3rd|4th|5th) time (im|i|ive|you)|(for|explain this for) the (3rd|4th|5th) time|so done with|im so done|how hard is it|cant believe you|(you|yall) (messed|screwed) up|worse than when|goddamn\w*|hell|crap|crappy|shit\w*|bullshit|fuck\w*|wtf|pissed|screw (you|this|that|it)|screwed (me|up)|stupid|idiots?|useless|incompetent|morons?|dumb|ridiculous|pathetic|unacceptable|(terrible|horrible|awful|worst|lousy|bad) (service|customer service|experience|shop|job)|frustrat\w*|furious|(im|i am|were|we are|getting|really|so|very) (so |very |really |getting |pretty )?(angry|mad|upset)|fed up|sick of|jerks|im done with you|sick and tired|waste of (my )?time|wasting my time|you people|not listening|arent listening|not helping|arent helping|are you kidding|kidding me|unbelievable|crooks?|ripping me off|rip ?off|(place|shop|this) is a joke|for (gods|christs) sake|asked me (that|this) (3|4|5|6|a (dozen|hundred|million)) times|dont you dare|(s|shit|clown) show|this is insane|what the f\b|wtf is|patience is (gone|wearing|running)|(you|yall|they|he|she) lied to me|been lied to|lied to me|(cant|cannot) do (their|your|his|her) job|(nobody|no one) [\w ]{0,20}can do (their|a|the|his|her) job|disgusting|ashamed of (yourselves|yourself)|(3rd|4th|5th) time (callin|calling|i called|ive called)|last straw|botched|ruined (my|the)|destroyed (my|the)|wasted my (whole )?(day|morning|afternoon|saturday|time|weekend)|(not|wont) hold again|holding for \d+ (minutes|hours)|(its|it is) not like i (need|have)|how im (being )?treated|(didnt|dont|did not|do not) (like|appreciate) (the way|how) (i|we) (was|were|got) treated|not (a|1) single (phone )?(call|update|word)|(have|need) to come down there and find (it|my \w+)|your (website|web site|site|app|phone system|phones?|system|booking system|online booking|shop|place|service|work) (is|are) (a )?(piece of )?junk|(just|thats just|oh thats) perfect|double booked|for nothing|so rudely|spoken to so|full refund|so called|great job really|wow great job|(this|that|it) (is|was|will be|is gonna be|is going to be|gonna be)( definitely| absolutely| officially| probably)? (my|our|the) last visit|(consider this|thats|thatll be) (my|our) last visit|(my|our) last visit (ever|period)|ever coming back|not calling again|disappointed|insulted|save the apology|or dont bother|forget about me|(tell|telling|told) me to calm down|writing a review|wont be pretty|4th time|congratulations you (managed|did it|guys)|oh (fantastic|wonderful|terrific|just great|great) the [\w ]{0,40}\b(again|broke)|(you told me|i was told|you said)\b[\w ]{0,60}\bnow (youre|you are) (telling me|saying)|i booked [\w ]{0,30}and now (youre|you are) telling me|(nobody|no one) ever (calls|called) (me )?back|and (nobody|no one) ever (does|did)|wasted (enough of )?my (day|time|morning|afternoon|whole day)|i dont want an apology|stop talking and listen|sat (in|at) your (lobby|waiting room)( for)?( \w+)? hours?|(nobody|no one) has (even )?touched (my|the) (car|truck|van|suv|vehicle)|turn(ed)? a [\w ]{1,20} job into|(you|yall|you guys|you people) (have been|are) a (total |complete |absolute )?nightmare|so f ing (mad|pissed|angry)|f ing (ridiculous|joke|idiots?|useless|incompetent)|(this place|this shop|your shop|your place) is a (freaking |total |complete |bleeping )?circus|is a (freaking|total|complete|bleeping|friggin|fricking) joke|(back to|coming to|at|in) this dump|thanks (so much |a lot )?for (scratching|denting|breaking|ruining|wrecking|scraping|dinging) my (door|car|truck|van|bumper|paint|fender|hood|mirror|wheel|rim|rims|seat|seats|windshield|dash)|worst communication|losing my mind|you( guys)? said \d+ (days|hours)[\w ]{0,20}\b(a week|2 weeks)|ready to throw (a|the|my|something|it|his|her) (chair|phone|something|wrench|keys|table|it)|(are|r) (you|yall|you guys|you people|your guys) even (real |actual |certified |licensed |qualified )?(mechanics|professionals)|(are|r) (you|yall|you guys|you people|your guys) even (trained|licensed|certified)$|is that too much to ask|(thats|that is|this is) (a )?(total |complete |straight up )?scam|(this|that|thats|it|its|this is|that is|it is) (just |simply |totally |completely )?(not|never) acceptable|you (guys |people |all )?keep forgetting( about)? (me|my|us|it)|(the 1|the guy|the lady|the customer|the person) you (guys |people |all )?keep forgetting|(have|need) to (drive|come|go) (down|over) there (myself|my self)|tomorrow tomorrow tomorrow|(always|keep saying|kept saying|you said|all i hear is|its always) tomorrow tomorrow|(you|yall|you guys|your (guy|guys|mechanic|mechanics|tech|techs|people)|whoever (did|worked on|fixed) (them|it|my \w+|the \w+)( the 1st time| last time)?) (clearly |obviously )?had no (clue|idea) what (they|he|she|you|yall) (were|was) doing|before you (lose|break|damage|scratch|ruin) something else|every (single )?time i (come|bring it|bring the car|take it|go) (in |there |here )?something (new |else )?(is|breaks|goes)|\d times same (problem|issue|thing)|(you|yall|you guys|you people) (already |just )?(bumped|moved|pushed|rescheduled|cancell?ed) (me|us|my appointment) (twice|again|2 times|3 times)|(2nd|3rd|4th|5th) time (that )?(you|yall|you guys|you people) (have )?(bumped|moved|pushed|rescheduled|cancell?ed)|(nobody|no one) (picked|picks|has picked|answered|has answered) (up )?(the )?last (\d+|few|couple( of)?) times|(you|yall|you guys|you people) never (pick up|answer)( the| your)? phones?|(you|yall|you guys|you people) never (pick up|answer)( anyway| ever| do you)?$|at least (they|the dealer|the other place|he|she) (pick|picks|answer|answers)( up)? the phone|never (bringing|taking) (a|my|the|another|any) (car|truck|van|vehicle) back (there|here|to you|to yall)|(im|i am|ill|i will) never (bring|take) (a|my|the|another|any) (car|truck|van|vehicle) (back )?(there|here|to you|to yall)|not paying (you )?(a dime|a (single )?cent|a penny|1 cent|another (dime|cent|penny))( (for|on) (it|this|that|any of (it|this|that)))?$|not paying (you )?(a dime|a (single )?cent|a penny|1 cent|another (dime|cent|penny)) (until|till|unless)|(you|yall|you guys|you people|your \w+|the guy|the lady|the girl) (just )?hung up on me|let me guess (its|it is|it was) (still|not)|let me guess (you|yall|you guys|you people)|wow real professional|real professional (operation|outfit) (you|yall) (got|have)|((you|yall|you guys|you people|they|he|she) (promised|told me|said)|(i was|we were) promised)\b[\w ]{0,40}\b(monday|tuesday|wednesday|thursday|friday|saturday|yesterday)( last week)? and then (monday|tuesday|wednesday|thursday|friday|saturday|yesterday|today)\b[\w ]{0,30}\b(nothing|now|and still)|sat (\d+|a couple of|a couple) hours in your (lobby|waiting room)|(dont|do not) have anything nice to say( about (you|yall|your shop|this shop|this place))?( so| and)? (ill|i will|i want|i just)|(dont|do not) have anything nice to say (about|to) (you|yall|your)|(and|but) you still charged me( \w+){0,2}$|(i was|we were) told (monday|tuesday|wednesday|thursday|friday|saturday|tomorrow) (and )?then (monday|tuesday|wednesday|thursday|friday|saturday|tomorrow)|(found|going to|go to|take it to|taking (it|my \w+) to) (a|another) (shop|place|mechanic|garage) that actually (answers|picks up|knows what)|somewhere that actually (answers|picks up|knows what)|(every time|each time) i call[a-z ]{0,10} a different (answer|story|price|person|excuse)|(and|but) this time (maybe |try to )?actually (order|fix|call|listen|do|get|have)|apparently (you|yall|you guys) (cant|cannot|can not) (even |do anything|get anything|answer|call|fix|read)|(do|does) (you|yall|you guys|you people|your (guys|mechanics)) even know how to|take your time its only been (like |about |almost |over )?(\d+|a|a couple|a few|a couple of) (weeks?|months?)|charged me [\w ]{1,30}?(just to tell me|to tell me [\w ]{0,40}?\bi (already )?knew)\b|i dont know what they teach you (over there|guys|people|at that shop|there)|(youve|you have|you got|yall got|you guys got|you guys have) (got )?(some|a lot of) nerve|(light|again|today|door|bumper|fender|mirror|seat|carpet) real professional$|(recording|machine|robot|oh|wow|yeah|thats|well) (wonderful |great |fantastic |awesome |perfect |super )?real helpful|money well spent huh|racket (you|yall)( guys)? (are |got )?(running|have going|got going)|(you|yall)( guys)? (lost|forgot|missed|messed up|screwed up) [\w ]{1,30}?which is just (fantastic|great|wonderful|perfect|awesome|lovely|terrific)|im done with (you people|you guys|yall|this shop|your shop)|thanks for wasting my (afternoon|morning|day|time|whole day|entire day|evening)|(you|yall|you guys|you people) are (all )?(thieves|robbers|con artists|scammers)|you are thieves|another (machine|recording|robot)\b[\w ]{0,40}?\breal helpful|(attitude|rude|rudeness|your service|the service here|service like that|customer service)\b[\w ]{0,40}?\bgood riddance)\b",
        Some(
            r"\b(is it|would it be|i know its|i know it is|if its) ridiculous to ask\b|\bridiculous how (fast|quick|good|cheap|easy|nice)\b|\b(angry|mad|upset|furious) at my (old|last|previous|other) (mechanic|shop|garage|dealer)\b|\b(the )?(dealership|dealer|other shop|other place|other guys|last shop|last place) (wanted|quoted|charged)( me)? [\w ]{0,40}?\b(which is|thats|that is) ridiculous\b|\bridiculous question\b|\bdamn (thats|that is|that was) (cheaper|cheap|fast|quick|not bad|a good)\b|\b(frustrated|fed up|upset|mad) with (my|the) (old|last|other|previous) (mechanic|shop|place|dealer|garage)\b|\bthe ridiculous thing is (the|it|that) (noise|car|light|sound|rattle)\b|\b(tow company|towing company|tow truck|insurance company)[\w ]{0,20}\bridiculous\b|\b(so )?mad at (him|her|them|my (son|daughter|kid|teenager|husband|wife))\b|\b(furious|mad|angry|upset) (with|at) the (other|last) (place|shop|guy|garage|dealer)\b|\b(bank|insurance|dmv|phone company|cable company)\b[\w ]{0,30}\b(a joke|joke)\b|\b(cold|heat|snow|rain|gas|gas prices) (is|are|was) ridiculous\b|\bi double booked\b|\b(son|daughter|wife|husband|kid|boss|dad|mom|mother|father|brother|sister) (is|was|got) (furious|mad|livid|pissed)( (at|with) me)?\b|\b(stupid|dumb|silly) question\b|^ridiculous how\b|\b(last|other|previous) (place|shop|garage|dealer)\b[\w ]{0,20}\bridiculous\b|\b(little|bit|tad|slightly) disappointed\b|\b(mad|angry|upset|frustrated) (at|with) myself\b|\bfrustrated (cause|because|that) (it|the car|my car|the truck|my truck)\b|\b(upset|mad|angry) (with|at) the other (place|shop|guy|garage|dealer)\b|\bnot (upset|angry|mad|frustrated|frustrating)\b|\bhell of a\b|\bwhat the heck\b|\b(not|no) (a )?big deal\b|\bfrustrated with (this|my|the) (car|truck|van|vehicle)\b|\b(its|it is|thats) ridiculous (out there|how)\b|\b(this|that|the) stupid (car|truck|van|light|engine light|check engine light|thing|noise)\b|\bridiculous (traffic|weather|week|day|morning|line)\b|\b(weather|traffic|week|snow|rain|ice|cold|heat|wind|roads?)( out here| here| today| lately| this (week|year|winter))? (is|was|are|were|has been|have been) (so |just |absolutely |kinda )?ridiculous\b|\b(dealer|dealership|other shop|other place|they|he|she) (wanted|quoted|charged)\b[\w ]{0,40}\bridiculous\b|\b(some|this|that|the) (idiot|jerk|moron)s? (just )?(cut|pulled|ran|cutting|honked|tailgating|driving)\b|\bdamn (this|the|these) (traffic|weather|dog|dogs|kids?|phone|line|rain|snow|road|roads|construction|bus|cat)\b|\b(traffic|weather|road|roads|construction|parking)\b[\w ]{0,30}\b(damn|ridiculous|crazy|nightmare)\b|\bsorry not you\b|\bstupid (dog|cat|kid|kids|phone|traffic|rain|snow|printer|computer|bus)\b|\b(insurance|insurance companies|dealer|dealership|dealers|bank|banks|city|dmv)\b[\w ]{0,30}\b(ridiculous|stupid|useless|pathetic)\b|\b(she|he|they|lady|guy|man|woman|wife|husband|boss|kid|kids|customer|customers|people|neighbor) (sounded|was|were|got|is|seemed) (really |so |very |pretty )?(mad|angry|upset|pissed)\b|\b(gonna |going to |might |may |will )?sound (dumb|stupid|silly|crazy)\b|\bdamn (traffic|deer|dog|weather|kids?|rain|snow|i)\b|\bthis damn (transmission|car|truck|van|light|engine|ac|battery|tire|tires|thing|noise|rattle)\b|\bsick of (this|my|the) [\w ]{0,20}(car|truck|van|suv|jeep)\b|\b(im|i am|i feel like|i was) (such )?an? idiot\b|\bcrap i\b|\b(prices?|rates) (at|over at) [\w ]{0,30}\bridiculous\b|\b(last|other|previous|old) (mechanic|shop|place|dealer|garage|guy)\b[\w ]{0,30}\b(rip ?off|crooks?|scam\w*)\b|\b(angry|mad|furious|upset) (at|with) me\b|\byou (people|guys|all) are (the best|great|awesome|amazing|wonderful|lifesavers?)\b|\b(traffic|weather|line|wait) (is|was) (unbelievable|insane)\b|\bmad at the (guy|dealer|dealership|person|man|lady|place|weather|car)\b|\bjust frustrated (its|with) (this|the) weather\b|\bthings calm down\b|\b((angry|mad|furious|upset|frustrated) (at|with) that (other|last|old) (shop|place|garage|dealer|mechanic))\b|\b((frustrated|mad|upset|angry) (with|at) (this|my|the) (stupid|dumb|old|darn|dang) (car|truck|van|vehicle))\b|\b((mad|upset|angry) (i|that i) missed the (game|show|bus|party|kickoff))\b|\b((last|other|previous|old) mechanic\b[\w ]{0,20}\bridiculous( charged me for)?)\b|\b((its|it is) frustrating that [\w ]{0,60}\bnot your fault)\b|\b(not your fault)\b|\bridiculous ((what|how much) )?(the|that) (dealer|dealership|other shop|other place|quick lube) (wants|charges|asks)\b|\b(this is|its|thats) ridiculous (my|the) (other|last|old|previous) (shop|place|garage|mechanic|dealer) (kept|charged|wanted|quoted|never|made|took)\b|\b(quick lube|other shop|other place|other guys|other garage|dealer|dealership|last shop|last place|last mechanic)( place| shop| guys| guy)?( and)?( they| he| she)?( totally| completely| really| just)? botched (it|the \w+|my \w+)( those (idiots|morons))?\b|\b((coworker|buddy|friend|neighbor|roommate|girlfriend|boyfriend|mother in law|father in law|sister in law|brother in law) (is|was|got|will be|would be|is gonna be|is going to be) (so |really )?(furious|mad|livid|pissed|angry|upset) (if|cause|because|at me|with me)|(son|daughter|wife|husband|kid|boss|dad|mom|mother|father|brother|sister) (will be|would be|is gonna be|is going to be|gonna be) (so |really )?(furious|mad|livid|pissed|angry|upset) (if|cause|because|at me|with me)|(other shop|other place|other guys|other garage|last shop|last place|dealer|dealership) (totally |completely |really )?screwed (up|me)|(other shop|other place|other guys|dealer)\b[\w ]{0,40}\b(mad|angry|upset|furious) at them|(im|i am|okay im|ok im) (a little|a bit|a tad|kinda|kind of|slightly) frustrated|(other|last) (shop|place|garage|dealer) (was|were) (so )?rude (and )?i was (furious|so mad|so angry|livid)|(angry|mad|furious|frustrated) (at|with) (my|the|this) (car|truck|van)|traffic\b[\w ]{0,40}\bso mad|dump truck|(other|last) (shop|place|garage|dealer) is a (freaking |total |complete )?joke)\b|\b((boss|landlord|neighbor|coworker|hoa|insurance|insurance company|wife|husband|mom|dad|kid) (is|was) being (so |really |kind of |kinda )?ridiculous)\b|\b((told|said to) (the|their|his|her) \w+( \w+){0,5} (they|he|she) (were|was) ridiculous)\b|\b((guy|lady|people) at the (quick lube|other|dealer|dealership|last)( \w+)?( place| shop)? (was|were) (so )?ridiculous)\b|\b((you|yall|you guys|you people) are (so |really |super |very )?(honest|awesome|amazing|the best|fair|nice|lifesavers?|wonderful|helpful|reasonable))\b|\b((do|does|will|would|should|can) (i|we|he|she) (have|need) to (drive|come|go) (down|over) there (myself|my self) (or|to))\b|\b((think|if|whether|wondering if|make sure|pretty sure|sounds like|is) (this|that|thats|it)( is)?( a)? scam)\b|\b((text|call|email|letter|voicemail|robocall|warranty|dealer|dealership|other shop|other place|last shop)\b[\w ]{0,40}\bscam)\b|\b((guy|guys|people|folks|mechanic|mechanics|lady|shop|place|garage|dealer|dealership|store)( at| from| over at)? the (other|last|old|previous|parts|tire) (shop|place|store|garage|dealer|dealership|guys?) (was|were|is|are) (so |totally |completely |absolutely )?(useless|ridiculous|clueless|a joke|rude|terrible|awful))\b|\b(the (other|last|old|previous) (shop|place|garage|dealer|dealership) (was|were|is|are) (so |totally |completely |absolutely )?(useless|ridiculous|clueless|a joke|rude|terrible|awful))\b|\b((other|last|previous) (place|shop|garage|dealer) (kept|had|charged|took|lost|wanted)\b[a-z0-9 ]{0,30}\b(i was|we were) so (mad|angry|upset))\b|\b((husband|wife|boyfriend|girlfriend|son|daughter|mom|dad) keeps saying ((youre|you are|yall are) (open|closed)[a-z ]{0,20}\bridiculous|(thats|its|that is|it is) ridiculous to (pay|spend)))\b|\b(so done with (this|my) (stupid |old |dumb )?(car|truck|van|vehicle))\b|\b((dealer|dealership|other shop|other place|insurance|tow company|bank)\b[a-z ]{0,30}\b(hung up on me|(nobody|no one) (picked|picks|answered) up))\b|\b((contractor|roofer|landlord|plumber|builder|dealer)\b[\w ]{0,20}\b(they|he|she) (were|was) (useless|terrible|awful)|the (contractor|roofer|landlord|plumber|builder|dealer) (was|were) (useless|terrible|awful))\b|\b((tow company|towing company|gas prices|prices at the pump|traffic|weather)( out there| today| lately)? (is|was|are|were) (such |so |just |totally )?(a joke|useless|ridiculous))\b|\b(unbelievable (weather|traffic|snow|rain|cold|heat|deal))\b|\b((i|car|diesel|gas|myself|it|keys|on|in|tank|door) like an? (idiot|moron|dummy))\b|\b((people|guys|guy|folks|lady) at (the )?(quick lube|jiffy lube|valvoline|walmart|pep boys|midas|firestone)( (are|is|was|were) ((so|totally|completely|just) )?(useless|idiots|a joke|terrible|rude|clueless))?)\b|\b((other|last) (shop|place|garage|dealer|mechanic)\b[a-z ]{0,10}\b(they|he|she) did a (terrible|horrible|awful|lousy|bad) job|(other|last) (shop|place|garage|dealer|mechanic) did a (terrible|horrible|awful|lousy|bad) job)\b|\b((girlfriend|boyfriend|fiance|partner) (is|was|got) (furious|mad|livid|pissed))\b|\b((my|our) own stupid (fault|mistake))\b|\b((my|this) (phone|cell|computer|printer) is useless)\b|\b(hell (be home|be there|be back|be in|be coming|come by|come in|bring it|drop it|drop off|need|call you|pick it up|pick up))\b|\b((other|last|previous) (shop|place|garage|dealer|dealership) (charged|billed) me for)\b|\b((honestly |just |really )?unbelievable (job|service|work) (last time |again )?(super |so |really )?(quick|fast|good|great|cheap)( (so|and|thanks|thank you|as always|like always)\b|$))|\b((car|truck|van|engine|battery|it) (is|sounds|seems) (so |really |very |pretty )?(angry|mad|upset))\b|\b(frustrated (mom|dad|mother|father|parent|wife|husband|student|nurse|teacher|commuter|grandma|grandpa)( of \d+)?( here)? (the|my|our))\b|\b((im|i am) (mad|angry|upset|furious|pissed) at (my|the) (ex|wife|husband|kids?|son|daughter|boss|brother|sister|roommate|neighbor|insurance|dealer|dealership|weather)|(im|i am) (mad|angry|upset|furious|pissed) at my car)\b|\b((dealer|dealership|other shop|other place|other guys) (wanted|wants|quoted|charged|charges|asked|is asking|was asking)( me)?( for)? ((a|an|about|like|over|just|only|to|look|at|it|for|the|\d+|hundred|grand|bucks|dollars|diagnostic|brakes|brake|pads|rotors|tires|tire|oil|change|alignment|job|that|this) ){1,8}(which is|thats|that is|its|what a|total) (highway robbery|(a )?rip ?off|robbery))\b|\b(my (boss|job|work) (is )?(making|made|makes|wants|has|had) me [\w ]{0,30}?(which is|thats|its) (ridiculous|unbelievable|insane|crazy))\b|\b((my|this) stupid (car|truck|van|phone|battery|key|keys|alarm|minivan|jeep))\b|\b((its|it is) (freezing|raining|snowing|pouring|so cold|so hot)( out here| outside| today| out)? (which is|and thats|thats) just perfect (since|because|cause|and|so) (i|im|my)\b)\b|\b((the|my|that) (dealer|dealership|other shop|other place|last shop|last place|quick lube|insurance|insurance company|tow company|towing company|parts store)( (?:[a-xz0-9]\w*)){0,16}? (those|them) (guys|people|clowns) (are|r) (crooks|thieves|a joke|clowns))\b|\b((said|says|thinks)( and i quote)? that place is (a )?(total |complete |such a )?(rip ?off|scam|joke))\b|\b((dealer|dealership|other shop|other place|last shop|last place|dmv|bank|store)( (?:[a-xz0-9]\w*)){0,14}? i was so (mad|angry|upset|pissed) i (walked|stormed|left|drove) (right )?(out|off|away))\b|\b((traffic|stuck behind)( (?:[a-xz0-9]\w*)){0,10}? i was losing my mind)\b|\b((tow company|tow truck|towing company|dealer|dealership)( (?:[a-xz0-9]\w*)){0,10}? unbelievable anyway)\b|\b((i|im|i am)( (?:[a-su-xz0-9]|t[a-qs-z]|tr[a-df-z])\w*){0,8}? like a (complete |total |real |big )?(moron|dummy|genius|dope|fool))\b|\b((^|(most|other|a lot of|lots of|some|all the other|because|cause|and|but|so|honestly|like) )(mechanics|shops|dealers|dealerships|salesmen|places) (always |usually )?(think|thinks|assume) (im|i am) (dumb|stupid|an idiot|clueless))\b|\b((brother|sister|husband|wife|son|daughter|dad|mom|father|mother|cousin|uncle|buddy|friend|roommate|neighbor)( (?:[a-xz0-9]\w*)){0,10}? (hes|shes|he is|she is) (an idiot|a moron|useless|clueless))\b|\b((damn|darn|stupid|dang) (squirrels?|mice|rats?|deer|raccoons?|weather|snow|potholes?|traffic))\b|\b((last|other|previous|old) (place|shop|mechanic|garage|dealer|dealership)( i went( to)?)? overcharged me( so bad| bad| big time)?( and| so)? i)\b|\b((once|when|after|as soon as|soon as|by the time|till|until) im done with (you people|you guys|yall))\b|\b((thinks|says|said|swears|swore)( that)? (you|yall|you guys|you people) are (all )?(thieves|robbers|con artists|scammers) but)\b|\b((he|she) thinks everything is a rip ?off)\b",
        ),
    ),
    yes: d.add(
        r"\b(yes|yeah|yea|yep|yup|sure|correct|thats right|sounds (good|great|perfect|fine)|perfect|absolutely|definitely|of course|go ahead|that works|works for me|that would be great|ill be there|i will be there|i can make it|well be there|uh huh|mhm|confirm\w*)\b|^(ok|okay|alright|right|great|please|fine)\b",
        Some(r"\b(not|dont|didnt) (sure|confirm\w*|correct)\b|\bnot (right|quite right)\b"),
    ),
    no: d.add(
        r"\b(no|nope|nah|not really|not right|not quite|incorrect|thats wrong|wrong|negative|i cant|i cannot|i wont)\b",
        Some(
            r"\bno (problem|worries|rush|need|doubt|biggie|prob)\b|\bnot a problem\b|\bno no (thats|its) (fine|right|correct|good)\b",
        ),
    ),
    goodbye: d.add(
        r"\b(bye|goodbye|good bye|thats all|that is all|thats it|that will be all|thatll be all|nothing else|have a (good|nice|great) (day|1|night|weekend|evening)|talk to you later|never mind|nevermind|forget it|im all set|all set|thats everything)\b",
        None,
    ),
    thanks: d.add(
        r"\b(thanks|thank you|thank u|appreciate it|ok|okay|cool|alright|got it|great|perfect|sounds good)\b",
        None,
    ),
    problem_report: d.add(
        r"\b(still|again|problems?|issues?|not (good|great|right|fixed|working|running)|worse|broke|broken|came back|isnt|doesnt|didnt|wont|noise|noises|leak\w*|light is on|light came on|squeak\w*|squeal\w*|grind\w*|shak\w*|vibrat\w*)\b",
        Some(r"\bno (problems?|issues?)\b|\bnot (a )?(problem|issue)\b|\bno complaints\b"),
    ),
    decline: d.add(
        r"\b(no|nope|nah|not (right )?now|not interested|not yet|maybe later|later|already (did|done|had|got|took care)|ill call (you )?back|another time|not at the moment|dont need)\b",
        Some(r"\bno (problem|worries|rush|doubt)\b|\bnot a problem\b"),
    ),
    name: ascii_regex(
        r"\b(?:my name is|my names|name is|call me|this is)\s+([a-z]+)(?:\s+([a-z]+))?",
    ),
    vehicle: ascii_regex(
        r"\b(?:((?:19|20)\d{2}|(?:19|20) \d{2}|\d{2})\s+)?(acura|audi|bmw|buick|cadillac|chevy|chevrolet|chrysler|dodge|ford|gmc|honda|hyundai|infiniti|jeep|kia|lexus|lincoln|mazda|mercedes|mitsubishi|nissan|porsche|ram|subaru|tesla|toyota|volkswagen|vw|volvo)\b(?:\s+([a-z0-9]+))?",
    ),
    patterns: d.finish(),
}
});

/// Words of "hold on", "let me check", "sorry what": never a vehicle or a name.
const HESITATIONS: &[&str] = &[
    "check", "dont", "hmm", "hold", "huh", "know", "let", "minute", "moment", "repeat", "sec",
    "2nd", "see", "sorry", "think", "wait", "what",
];

/// Words that end a name or a model, or are never one.
const NOT_A_NAME: &[&str] = &[
    "a",
    "absurd",
    "bull",
    "insane",
    "outrageous",
    "round",
    "awful",
    "crazy",
    "important",
    "kind",
    "probably",
    "sort",
    "strange",
    "supposed",
    "terrible",
    "urgent",
    "weird",
    "about",
    "actually",
    "again",
    "all",
    "also",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "back",
    "bad",
    "be",
    "because",
    "but",
    "by",
    "calling",
    "can",
    "cant",
    "car",
    "coming",
    "confused",
    "could",
    "done",
    "for",
    "from",
    "getting",
    "going",
    "gonna",
    "good",
    "great",
    "had",
    "has",
    "have",
    "having",
    "here",
    "hoping",
    "how",
    "i",
    "id",
    "if",
    "im",
    "in",
    "interested",
    "is",
    "it",
    "its",
    "just",
    "looking",
    "main",
    "making",
    "may",
    "me",
    "my",
    "need",
    "needs",
    "new",
    "next",
    "no",
    "not",
    "now",
    "of",
    "ok",
    "okay",
    "on",
    "or",
    "our",
    "please",
    "pretty",
    "ready",
    "really",
    "regarding",
    "ridiculous",
    "right",
    "running",
    "said",
    "so",
    "sorry",
    "still",
    "sure",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "this",
    "to",
    "today",
    "tomorrow",
    "trying",
    "unacceptable",
    "up",
    "very",
    "was",
    "we",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "wondering",
    "yeah",
    "yes",
    "you",
    "your",
    "definitely",
    "absolutely",
    "officially",
    "honestly",
    "literally",
    "seriously",
    "totally",
    "taking",
    "unbelievable",
];

/// The caller's intent in this utterance, if any pattern recognises one.
///
/// Cancel and reschedule win wherever they appear (they are what the call is about), cancel
/// over reschedule; otherwise the leftmost recognised intent wins, which suits run-on sentences.
/// A booking asked for in so many words: it wins over a price question in the same utterance
/// ("kinda steep but fine book me for tomorrow", "how much, cause i want 1 tomorrow at 9").
static BOOK_NOW: LazyLock<Regex> = LazyLock::new(|| {
    ascii_regex(
        r"\b(book me|book it|go ahead and (book|schedule|put)|(whats|what is) (your|the) (1st|next|earliest) (opening|available|slot)|put me (in|down)|sign me up|schedule me|pencil me in|get me in|i want 1|set me up|when can (i|we) (come in|bring it|drop it))\b",
    )
});

pub(crate) fn intent(heard: &Heard<'_>) -> Option<Intent> {
    let d = &*DETECTORS;
    // When the caller says cancel, cancel wins ("dont worry about rescheduling just cancel").
    if d.cancel.is_match(heard) {
        return Some(Intent::CancelAppointment);
    }
    if d.reschedule.is_match(heard) {
        return Some(Intent::RescheduleAppointment);
    }
    // Most utterances match one of these at most: where each match starts (a reverse scan) is
    // only worked out when several do.
    let mut matched = d
        .ranked
        .iter()
        .filter(|(_, detector)| detector.is_match(heard));
    let first = matched.next()?;
    let second = matched.next();
    let asks_price = first.0 == Intent::PricingInquiry
        || second.is_some_and(|(intent, _)| *intent == Intent::PricingInquiry);
    if asks_price && BOOK_NOW.is_match(heard.text) {
        return Some(Intent::ScheduleAppointment);
    }
    let Some(second) = second else {
        return Some(first.0);
    };
    // A general question loses to a specific request in the same utterance ("quick question,
    // when does my appointment start"); among specific ones the leftmost wins.
    [first, second]
        .into_iter()
        .chain(matched)
        .filter_map(|(intent, detector)| detector.find(heard).map(|offset| (offset, *intent)))
        .min_by_key(|&(offset, intent)| (intent == Intent::GeneralInquiry, offset))
        .map(|(_, intent)| intent)
}

/// Which of the ranked detectors (hours, status, pricing, booking, general) match, one bit each
/// in their order (bits 0 to 4): what the learned model is told besides the patterns' answer.
/// The cancel and reschedule detectors need no bit: when either matches, the patterns' answer
/// is theirs and the model is not asked.
pub(crate) fn signals(heard: &Heard<'_>) -> u16 {
    DETECTORS
        .ranked
        .iter()
        .enumerate()
        .filter(|(_, (_, detector))| detector.is_match(heard))
        .fold(0, |bits, (bit, _)| bits | 1 << bit)
}

/// The first signal bit free for the manager's own (`manager::ESCALATES` on).
pub(crate) const FIRST_FREE_SIGNAL: u32 = 7;
const _: () = assert!(RANKED <= FIRST_FREE_SIGNAL as usize);

/// Whether the caller says cancel (the cancel detector, false alarms blanked).
pub(crate) fn says_cancel(heard: &Heard<'_>) -> bool {
    DETECTORS.cancel.is_match(heard)
}

/// Whether the utterance asks for a person, is angry, or threatens legal action.
pub(crate) fn escalation(heard: &Heard<'_>) -> Option<EscalationReason> {
    let d = &*DETECTORS;
    if d.legal.is_match(heard) {
        Some(EscalationReason::LegalThreat)
    } else if d.manager.is_match(heard) {
        Some(EscalationReason::ManagerRequest)
    } else if d.anger.is_match(heard) {
        Some(EscalationReason::Anger)
    } else {
        None
    }
}

/// A yes or a no to a read-back question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Yes,
    No,
}

/// A yes or no answer; a "no" wins over a "yes" in the same utterance ("yes no wait").
pub(crate) fn answer(heard: &Heard<'_>) -> Option<Answer> {
    let d = &*DETECTORS;
    if d.no.is_match(heard) {
        Some(Answer::No)
    } else if d.yes.is_match(heard) {
        Some(Answer::Yes)
    } else {
        None
    }
}

/// "bye", "that's all", "never mind".
pub(crate) fn is_goodbye(heard: &Heard<'_>) -> bool {
    DETECTORS.goodbye.is_match(heard)
}

/// "thanks", "ok", "got it": closes the call only when nothing is pending.
pub(crate) fn is_thanks(heard: &Heard<'_>) -> bool {
    DETECTORS.thanks.is_match(heard)
}

/// A follow-up call answer that reports trouble ("it's still making the noise").
pub(crate) fn is_problem_report(heard: &Heard<'_>) -> bool {
    DETECTORS.problem_report.is_match(heard)
}

/// "no thanks", "not right now", "already had it done".
pub(crate) fn is_decline(heard: &Heard<'_>) -> bool {
    DETECTORS.decline.is_match(heard)
}

/// A name introduced with "my name is", "this is", "call me" ("this is john smith calling").
pub(crate) fn introduced_name(text: &str) -> Option<String> {
    let caps = DETECTORS.name.captures(text)?;
    let first = caps.get(1)?.as_str();
    if !is_name_word(first) {
        return None;
    }
    let mut res = title_case(first);
    if let Some(last) = caps.get(2).map(|m| m.as_str()).filter(|w| is_name_word(w)) {
        res.push(' ');
        res.push_str(&title_case(last));
    }
    Some(res)
}

/// A whole utterance that is just a name, as an answer to "may I have your name?".
pub(crate) fn bare_name(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(' ')
        .filter(|w| {
            !matches!(
                *w,
                "um" | "uh" | "yeah" | "sure" | "its" | "it" | "is" | "im"
            )
        })
        .collect();
    if words.is_empty()
        || words.len() > 3
        || !words
            .iter()
            .all(|w| is_name_word(w) && !HESITATIONS.contains(w))
    {
        return None;
    }
    Some(
        words
            .iter()
            .map(|w| title_case(w))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A whole utterance that is just a vehicle without a known make ("its an old f150"),
/// as an answer to "what are you driving?".
pub(crate) fn bare_vehicle(text: &str) -> Option<String> {
    let mut rest = text;
    for filler in [
        "um ", "uh ", "yeah ", "so ", "its ", "it is ", "i have ", "i drive ", "we have ", "a ",
        "an ", "the ", "my ", "old ", "little ",
    ] {
        rest = rest.strip_prefix(filler).unwrap_or(rest);
    }
    let words: Vec<&str> = rest.split(' ').filter(|w| !w.is_empty()).collect();
    let plausible = (1..=5).contains(&words.len())
        && words.iter().any(|w| !NOT_A_NAME.contains(w))
        && !words.iter().any(|w| HESITATIONS.contains(w))
        && {
            let heard = Heard::new(text);
            answer(&heard).is_none() && !is_goodbye(&heard) && intent(&heard).is_none()
        };
    plausible.then(|| {
        words
            .iter()
            .map(|w| title_case(w))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// A vehicle as said, title-cased: "2019 Honda Civic", "Ford F150", "Toyota".
pub(crate) fn vehicle(text: &str) -> Option<String> {
    let caps = DETECTORS.vehicle.captures(text)?;
    let mut parts = Vec::with_capacity(3);
    if let Some(year) = caps.get(1) {
        let digits: String = year.as_str().chars().filter(char::is_ascii_digit).collect();
        parts.push(if digits.len() == 2 {
            format!("20{digits}")
        } else {
            digits
        });
    }
    let make = match &caps[2] {
        "chevy" => "Chevrolet".to_owned(),
        "vw" => "Volkswagen".to_owned(),
        "bmw" | "gmc" => caps[2].to_uppercase(),
        make => title_case(make),
    };
    parts.push(make);
    if let Some(model) = caps.get(3).map(|m| m.as_str()).filter(|w| is_model_word(w)) {
        parts.push(title_case(model).to_string());
    }
    Some(parts.join(" "))
}

fn is_name_word(word: &str) -> bool {
    word.len() > 1
        && word.bytes().all(|b| b.is_ascii_lowercase())
        && !NOT_A_NAME.contains(&word)
        && !crate::when::is_calendar_word(word)
}

fn is_model_word(word: &str) -> bool {
    !NOT_A_NAME.contains(&word)
        && !crate::when::is_calendar_word(word)
        && !matches!(
            word,
            "brakes" | "oil" | "tires" | "battery" | "transmission" | "engine" | "owner" | "owners"
        )
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The letters of a pattern outside its escapes (`\b`, `\w`, `\d`), as words.
    fn literal_words(pattern: &str) -> Vec<&str> {
        let mut words = Vec::new();
        let bytes = pattern.as_bytes();
        let (mut at, mut start) = (0, None);
        while at <= bytes.len() {
            let letter = bytes.get(at).is_some_and(u8::is_ascii_lowercase);
            if letter {
                start.get_or_insert(at);
            } else if let Some(from) = start.take() {
                words.push(&pattern[from..at]);
            }
            // An escape's letter belongs to no word.
            at += if bytes.get(at) == Some(&b'\\') { 2 } else { 1 };
        }
        words
    }

    /// Patterns match normalised text, where number words are digits ("first" is "1st", "the
    /// one" is "the 1"; "no one" before a verb stays): a pattern word that `normalize` would
    /// change can never match. Twelve
    /// alternatives were written that way until round thirteen ("the one over there who knows
    /// what theyre doing" never asked for a person).
    #[test]
    fn patterns_are_written_in_normalised_words() {
        assert_eq!(literal_words(r"\bno (one|1)\w+"), ["no", "one"]);
        for source in &DETECTORS.patterns.sources {
            let words = literal_words(source);
            for (at, word) in words.iter().enumerate() {
                // A word kept only between the ones around it ("no one called") is checked
                // with them.
                let kept = crate::text::normalize(word) == *word
                    || at.checked_sub(1).is_some_and(|before| {
                        let said = format!(
                            "{} {word} {}",
                            words[before],
                            words.get(at + 1).unwrap_or(&"")
                        );
                        crate::text::normalize(&said) == said.trim_end()
                    });
                assert!(kept, "{word:?} in a pattern never matches normalised text");
            }
        }
    }

    /// Every phrase the patterns were taken apart into is normalised text itself, so each can
    /// match: the letters-only check above misses two spaces in a row ("(get|put) (me )? the
    /// big cheese" needed them) and other bytes `normalize` never leaves.
    #[test]
    fn every_phrase_of_the_patterns_can_be_heard() {
        let phrases = DETECTORS.patterns.phrase_texts();
        assert!(phrases.len() > 3000, "{} phrases", phrases.len());
        for phrase in phrases {
            // "no one" is kept as words only before a verb ("no one called").
            let heard = crate::text::normalize(&format!("{phrase} called"));
            assert_eq!(
                heard.strip_suffix(" called"),
                Some(phrase.as_str()),
                "{phrase:?} never matches normalised text"
            );
        }
    }

    #[test]
    fn asking_to_be_put_through_to_the_big_cheese_is_a_manager_request() {
        // Written once as `(get|put) (me )? the …`, which needs two spaces and never matched.
        for said in [
            "get me the big cheese",
            "put me the top dog",
            "just get the top dog",
            "can you get the big cheese",
        ] {
            assert_eq!(
                escalation(&Heard::new(said)),
                Some(EscalationReason::ManagerRequest),
                "{said}"
            );
        }
    }

    /// The intent and escalation detectors' positive patterns, hundreds of alternatives each,
    /// stay taken apart into phrases and triggered alternatives (`phrases.rs`): an alternative
    /// added after the closing `)\b` of the main group instead of inside it turns the whole
    /// pattern into one regex, run on every utterance (round nine did that once, and the
    /// bench's p99 went from about 30 to about 50 µs).
    #[test]
    fn the_large_positive_patterns_stay_taken_apart() {
        let patterns = &DETECTORS.patterns;
        assert!(
            patterns.derive_after_blanking(),
            "no needle has two non-word bytes in a row, so blanked texts are not scanned again"
        );
        // cancel, reschedule, hours, status, pricing, schedule, general, legal, manager, anger:
        // the positive pattern of each is added first, its false alarms second.
        for id in [0, 2, 4, 6, 8, 10, 12, 14, 16, 18] {
            let (phrases, _, always) = patterns.shape(id);
            assert!(phrases > 30, "pattern {id}: {phrases} phrases");
            assert!(
                always.is_none_or(|always| always.len() < 200),
                "pattern {id} runs {always:?} on every text"
            );
        }
    }

    /// Every pattern of the detectors, taken apart, finds exactly what its regex finds, and where, on every
    /// labelled utterance and on each utterance's second half (a start mid-sentence).
    #[test]
    fn split_patterns_match_exactly_what_their_regexes_match() {
        let patterns = &DETECTORS.patterns;
        let labelled =
            crate::score::parse_labelled(include_str!("../../../fixtures/nlu/utterances.jsonl"))
                .expect("the labelled set parses");
        let texts: Vec<String> = labelled
            .iter()
            .flat_map(|line| {
                let text = crate::text::normalize(&line.text);
                let half = text[text.len() / 2..].to_owned();
                [text, half]
            })
            .collect();
        let regexes: Vec<Regex> = patterns
            .sources
            .iter()
            .map(|source| ascii_regex(source))
            .collect();
        assert_eq!(
            regexes.len(),
            30,
            "every detector and its false alarms are in the set"
        );
        let mut matches = 0;
        for text in &texts {
            let scan = patterns.scan(text);
            for (id, regex) in regexes.iter().enumerate() {
                let expected = regex.find(text).map(|m| m.start());
                assert_eq!(
                    patterns.find_start(id, text, &scan),
                    expected,
                    "{id} {text:?}"
                );
                assert_eq!(
                    patterns.is_match(id, text, &scan),
                    expected.is_some(),
                    "{id} {text:?}"
                );
                matches += usize::from(expected.is_some());
            }
        }
        // Blanking every match of a pattern, as `PatternSet::blank` does, leaves the same text
        // as the regex's own leftmost matches on these texts, but where two matches overlap.
        let d = &*DETECTORS;
        let false_alarms: Vec<usize> = [
            &d.cancel,
            &d.reschedule,
            &d.legal,
            &d.manager,
            &d.anger,
            &d.yes,
            &d.no,
            &d.goodbye,
            &d.thanks,
            &d.problem_report,
            &d.decline,
        ]
        .into_iter()
        .chain(d.ranked.iter().map(|(_, detector)| detector))
        .filter_map(|detector| detector.false_alarms)
        .collect();
        let mut blanked = 0;
        let mut derived_scans = 0;
        let mut overlapping = 0;
        for text in &texts {
            let scan = patterns.scan(text);
            for &id in &false_alarms {
                let regex = &regexes[id];
                let expected = regex.is_match(text).then(|| {
                    regex
                        .replace_all(text, |caps: &regex::Captures<'_>| " ".repeat(caps[0].len()))
                        .into_owned()
                });
                let got = patterns.blank(id, text, &scan).map(|blanked| {
                    // The blanked text's scan, told from the text's, is the one a pass over
                    // the blanked text finds.
                    let fresh = patterns.scan(&blanked.text);
                    for other in 0..regexes.len() {
                        assert_eq!(
                            patterns.find_start(other, &blanked.text, &blanked.scan),
                            patterns.find_start(other, &blanked.text, &fresh),
                            "{other} after blanking {id} in {text:?}"
                        );
                    }
                    derived_scans += usize::from(blanked.derived);
                    blanked.text
                });
                match (&got, &expected) {
                    (Some(got), Some(expected)) if got != expected => {
                        // Where two matches overlap ("husband is furious" and "furious at the
                        // other shop"), the regex blanks the leftmost and `blank` both: every
                        // byte the regex blanks is blank, and every other one is inside a match
                        // the regex finds from a later start.
                        let from_anywhere: Vec<_> = (0..text.len())
                            .filter_map(|at| regex.find_at(text, at))
                            .collect();
                        assert_eq!(got.len(), expected.len(), "{id} {text:?}");
                        for (at, (got, expected)) in got.bytes().zip(expected.bytes()).enumerate() {
                            if got != b' ' {
                                assert_eq!(got, expected, "{id} {text:?} at {at}");
                            } else if expected != b' ' {
                                assert!(
                                    from_anywhere.iter().any(|m| m.range().contains(&at)),
                                    "{id} {text:?} at {at}"
                                );
                            }
                        }
                        overlapping += 1;
                    }
                    _ => assert_eq!(got, expected, "{id} {text:?}"),
                }
                blanked += usize::from(expected.is_some());
            }
        }
        // Such overlaps are rare: at most one text in a hundred of those blanked.
        assert!(
            overlapping * 100 <= blanked,
            "blanking differs from the regex's leftmost matches only where matches overlap \
             ({overlapping} texts of {blanked})"
        );
        // Nearly every false alarm blanked has word bytes and boundaries at both ends, so its
        // text is not scanned again.
        assert!(
            derived_scans * 10 >= blanked * 9,
            "{derived_scans} of {blanked} blanked texts' scans were told from their texts'"
        );
        assert!(
            blanked > 300,
            "the texts exercise the false alarms ({blanked} matches)"
        );
        assert!(
            matches > 4000,
            "the texts exercise the detectors ({matches} matches)"
        );
    }
}
