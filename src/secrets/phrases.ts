/**
 * Famous phrases, sunoye's own list: what password crackers try beside their lists of common
 * passwords and words (pangrams, quotes, film and series lines, the first lines of songs,
 * nursery rhymes, slogans, xkcd's examples and the passphrases people pick). zxcvbn-ts's
 * dictionaries hold single words and short passwords, so a passphrase of famous words scores as
 * several unrelated words. The estimator takes these as one more dictionary, each entry
 * lowercased and without separators (as it compares them), in the order written: the most
 * famous first, as its rank.
 */

/** The list: one heading line (`#`) per kind, then phrases separated by ` / `. */
const PHRASES = `
# xkcd 936 and other passwords that became famous
correct horse battery staple / Tr0ub4dor&3 / troubador&3 / troubadour&3 / troubador / troubadour
hunter2 / swordfish / joshua / global thermonuclear war / shall we play a game / setec astronomy
too many secrets / my voice is my passport verify me / speak friend and enter / mellon
open sesame / abracadabra / hocus pocus / let me in / please let me in / the password is password
this is my password / my password is password / this is a password / change me / change this password
i forgot my password / forgot my password / secret password / my secret password / top secret
super secret / keep it secret keep it safe / trust no one / the truth is out there / i want to believe
# pangrams and typing practice
the quick brown fox jumps over the lazy dog / the quick brown fox jumped over the lazy dog
a quick brown fox jumps over the lazy dog / the quick brown fox / quick brown fox / lazy dog
pack my box with five dozen liquor jugs / sphinx of black quartz judge my vow
how vexingly quick daft zebras jump / the five boxing wizards jump quickly
jackdaws love my big sphinx of quartz / waltz bad nymph for quick jigs vex
glib jocks quiz nymph to vex dwarf / bright vixens jump dozy fowl quack
quick zephyrs blow vexing daft jim / two driven jocks help fax my big quiz
lorem ipsum dolor sit amet / lorem ipsum / hello world / hello world program / foo bar baz
now is the time for all good men to come to the aid of the party / all work and no play makes jack a dull boy
# films and series
may the force be with you / the force is strong with this one / i am your father / luke i am your father
no i am your father / these are not the droids you are looking for / do or do not there is no try
help me obi wan kenobi you're my only hope / a long time ago in a galaxy far far away
in a galaxy far far away / i've got a bad feeling about this / it's a trap / never tell me the odds
i find your lack of faith disturbing / this is the way / i have spoken / there's always a bigger fish
to infinity and beyond / you've got a friend in me / just keep swimming / hakuna matata
ohana means family / let it go / the cold never bothered me anyway / bibbidi bobbidi boo
supercalifragilisticexpialidocious / a spoonful of sugar / when you wish upon a star
here's looking at you kid / of all the gin joints in all the towns in all the world / play it again sam
i'll be back / hasta la vista baby / come with me if you want to live / get to the chopper
you shall not pass / fly you fools / my precious / one ring to rule them all
one does not simply walk into mordor / not all those who wander are lost / second breakfast
winter is coming / you know nothing jon snow / valar morghulis / valar dohaeris / dracarys
a lannister always pays his debts / hold the door / the night is dark and full of terrors
what is dead may never die / not today / chaos is a ladder / i drink and i know things
live long and prosper / beam me up scotty / resistance is futile / make it so
to boldly go where no man has gone before / space the final frontier / the needs of the many
houston we have a problem / e.t. phone home / there's no place like home / toto i've a feeling we're not in kansas anymore
follow the white rabbit / there is no spoon / red pill or blue pill / take the red pill / welcome to the real world
why so serious / i'm batman / i am batman / i am iron man / i am groot / we are groot / avengers assemble
i love you 3000 / wakanda forever / with great power comes great responsibility / i can do this all day
i see dead people / show me the money / you can't handle the truth / frankly my dear i don't give a damn
i'm the king of the world / i'm flying jack / life is like a box of chocolates / run forrest run
say hello to my little friend / i'm gonna make him an offer he can't refuse / an offer you can't refuse
keep your friends close but your enemies closer / elementary my dear watson / bond james bond / shaken not stirred
you talking to me / go ahead make my day / i feel the need the need for speed / nobody puts baby in a corner
the first rule of fight club is you do not talk about fight club / the first rule of fight club
here's johnny / redrum / i'm sorry dave i'm afraid i can't do that / open the pod bay doors hal
klaatu barada nikto / rosebud / soylent green is people / they're here / i'll have what she's having
you had me at hello / wax on wax off / yippee ki yay / to be or not to be / that is the question
this is sparta / tonight we dine in hell / are you not entertained / what we do in life echoes in eternity
they may take our lives but they'll never take our freedom / i am spartacus / the dude abides
say my name / i am the one who knocks / yeah science / how you doin / we were on a break
allons-y / geronimo / bow ties are cool / exterminate / wibbly wobbly timey wimey / the spice must flow
fear is the mind-killer / i must not fear / expecto patronum / wingardium leviosa / alohomora
mischief managed / i solemnly swear that i am up to no good / after all this time always
you're a wizard harry / it's leviosa not leviosar / gotta catch em all / pikachu i choose you
it's over nine thousand / over nine thousand / believe it / plus ultra / omae wa mou shindeiru
what's up doc / that's all folks / scooby dooby doo / yabba dabba doo / cowabunga / eat my shorts / bazinga
# games and the internet
the cake is a lie / do a barrel roll / it's dangerous to go alone take this / the princess is in another castle
war never changes / would you kindly / finish him / leeroy jenkins / all your base are belong to us
press f to pay respects / i used to be an adventurer like you then i took an arrow in the knee
an arrow in the knee / praise the sun / git gud / stay awhile and listen / for the horde / for the alliance
up up down down left right left right b a / never gonna give you up / never gonna let you down
we're no strangers to love / never gonna run around and desert you / it's over anakin i have the high ground
i have the high ground / hello there general kenobi / general kenobi / do you know the way
# quotes, sayings and speeches
i think therefore i am / cogito ergo sum / veni vidi vici / i came i saw i conquered / carpe diem
memento mori / et tu brute / alea iacta est / the die is cast / know thyself / i know that i know nothing
the unexamined life is not worth living / god is dead / hell is other people / knowledge is power
the only thing we have to fear is fear itself / ask not what your country can do for you
i have a dream / that's one small step for man one giant leap for mankind / one small step for man
mr gorbachev tear down this wall / tear down this wall / read my lips no new taxes / yes we can
give me liberty or give me death / we hold these truths to be self-evident / four score and seven years ago
government of the people by the people for the people / e pluribus unum / in god we trust
god save the queen / god save the king / god bless america / live free or die / don't tread on me
semper fidelis / semper fi / never give up never surrender / never give up / keep calm and carry on
to err is human to forgive divine / the end justifies the means / less is more / the medium is the message
the journey of a thousand miles begins with a single step / be the change you wish to see in the world
an eye for an eye / float like a butterfly sting like a bee / stay hungry stay foolish
imagination is more important than knowledge / insanity is doing the same thing over and over again
move fast and break things / don't be evil / think different / just do it / impossible is nothing
i'm lovin it / because you're worth it / the best a man can get / finger lickin good / have it your way
taste the rainbow / got milk / where's the beef / red bull gives you wings / the happiest place on earth
war is peace freedom is slavery ignorance is strength / big brother is watching you / two plus two makes five
all animals are equal / four legs good two legs bad / so it goes / call me ishmael
it was the best of times it was the worst of times / it was a dark and stormy night
it is a truth universally acknowledged / all happy families are alike / once upon a time
happily ever after / the answer to life the universe and everything / forty two
don't panic / so long and thanks for all the fish / the answer is forty two / what is the meaning of life
in the beginning god created the heaven and the earth / in the beginning was the word
the lord is my shepherd / our father who art in heaven / hallowed be thy name / thy kingdom come
jesus loves me / jesus is lord / jesus saves / god is good / god is love / praise the lord
thank you jesus / god bless you / amazing grace / let there be light / love thy neighbour
the early bird catches the worm / an apple a day keeps the doctor away / time is money
practice makes perfect / better late than never / no pain no gain / all that glitters is not gold
actions speak louder than words / rome wasn't built in a day / when in rome
where there's a will there's a way / the pen is mightier than the sword / fortune favours the bold
slow and steady wins the race / curiosity killed the cat / you only live once / live laugh love
live love laugh / love conquers all / all is fair in love and war / love is love / love is all you need
peace and love / peace love and happiness / sex drugs and rock and roll / rock and roll / rock n roll
# songs, their titles and first lines
all you need is love / let it be / hey jude / yesterday all my troubles seemed so far away / here comes the sun
come together / yellow submarine / strawberry fields forever / lucy in the sky with diamonds
twist and shout / i want to hold your hand / she loves you yeah yeah yeah / help i need somebody
with a little help from my friends / imagine all the people / imagine there's no heaven
is this the real life is this just fantasy / is this the real life / mama just killed a man
bohemian rhapsody / we will rock you / we are the champions / another one bites the dust
i want to break free / under pressure / don't stop me now / the show must go on
stairway to heaven / there's a lady who's sure all that glitters is gold / hotel california
welcome to the hotel california / sweet child o' mine / welcome to the jungle / smells like teen spirit
load up on guns bring your friends / hello darkness my old friend / the sound of silence
don't stop believin' / just a small town girl / livin' on a prayer / we're halfway there
highway to hell / back in black / born to be wild / eye of the tiger / born in the usa
billie jean is not my lover / beat it / hit me baby one more time / oops i did it again
i will always love you / my heart will go on / every breath you take / sweet caroline
take me home country roads / country roads take me home / almost heaven west virginia
i can't get no satisfaction / paint it black / like a rolling stone / how does it feel
the times they are a-changin' / blowin' in the wind / the answer my friend is blowin' in the wind
house of the rising sun / there is a house in new orleans / smoke on the water / another brick in the wall
we don't need no education / wish you were here / comfortably numb / money for nothing
what is love baby don't hurt me / don't worry be happy / what a wonderful world / i did it my way
fly me to the moon / somewhere over the rainbow / singin' in the rain / let it snow / jingle bells
all i want for christmas is you / last christmas i gave you my heart / we wish you a merry christmas
silent night holy night / rudolph the red nosed reindeer / happy birthday to you / happy birthday
dancing queen / mamma mia / take on me / don't you forget about me / girls just want to have fun
like a virgin / material girl / total eclipse of the heart / every rose has its thorn
i bless the rains down in africa / shake it off / rolling in the deep / hello it's me
we are never ever getting back together / baby baby baby oh / call me maybe / gangnam style
despacito / old town road / bad guy / blinding lights / shape of you / uptown funk
nothing else matters / enter sandman / master of puppets / wake me up when september ends
boulevard of broken dreams / seven nation army / mr brightside / coming out of my cage
i kissed a girl and i liked it / umbrella ella ella / single ladies / all the single ladies
# nursery rhymes and children's songs
mary had a little lamb / twinkle twinkle little star / humpty dumpty sat on a wall
jack and jill went up the hill / row row row your boat / baa baa black sheep / old macdonald had a farm
the wheels on the bus go round and round / itsy bitsy spider / london bridge is falling down
hickory dickory dock / three blind mice / ring around the rosie / the itsy bitsy spider
# passphrases people pick
i love you / i love you so much / i love you forever / i love you too / love you forever
i love my dog / i love my cat / i love my wife / i love my husband / i love my family / i love you mom
i love my mom / i love my kids / forever and always / forever and ever / together forever
best friends forever / forever young / rest in peace / let's go / oh my god / what's up / good morning
good night / welcome home / welcome to my home / home sweet home / hello there / nice to meet you
to the moon / buy the dip / hodl / diamond hands / make america great again / black lives matter
keep it simple stupid / what doesn't kill you makes you stronger / this too shall pass
everything happens for a reason / hakuna matata it means no worries / no worries / no problem
just do it later / i am the best / i am the king / i am the greatest / i am awesome / you are awesome
everything is awesome / life is good / life is beautiful / life is short / enjoy the little things
one two three four / one two three four five / abc one two three / do re mi / a b c d e f g
`;

/** The phrases in the order written, as written (the estimator normalises them). */
export function famousPhrases(): string[] {
  return PHRASES.split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .flatMap((line) => line.split(' / '))
    .map((phrase) => phrase.trim());
}
