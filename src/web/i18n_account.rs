//! Every sentence of the account pages, in both languages (kept apart from [`super::i18n`]'s
//! public-site table so the two grow independently), and the wording of form problems, including
//! zxcvbn's password advice.

use zxcvbn::feedback::{Suggestion, Warning};

use crate::accounts::{Field, Problem};
use crate::domain::{AccountInputError, MIN_PASSWORD_CHARS};
use crate::web::i18n::Lang;

/// Adding a field makes both tables fail to build until it is translated.
#[derive(Debug)]
pub struct AccountStrings {
    pub above_department: &'static str,
    pub account_deleted: &'static str,
    pub account_disabled: &'static str,
    pub add: &'static str,
    pub add_first_station: &'static str,
    pub add_title: &'static str,
    pub add_to_mine: &'static str,
    pub already_mine: &'static str,
    pub ask_new_code: &'static str,
    pub back_to_login: &'static str,
    pub bad_login: &'static str,
    pub change_email: &'static str,
    pub change_password: &'static str,
    pub choose_fuels: &'static str,
    pub code: &'static str,
    pub confirm: &'static str,
    pub current_email: &'static str,
    pub current_password: &'static str,
    pub dashboard_title: &'static str,
    pub delete_button: &'static str,
    pub delete_text: &'static str,
    pub delete_title: &'static str,
    pub display_name: &'static str,
    pub email: &'static str,
    pub email_cancel_button: &'static str,
    pub email_cancel_text: &'static str,
    pub email_cancel_title: &'static str,
    pub email_cancelled_text: &'static str,
    pub email_confirmed_text: &'static str,
    pub email_confirmed_title: &'static str,
    pub email_taken_text: &'static str,
    pub email_taken_title: &'static str,
    pub empty_fuels_title: &'static str,
    pub empty_stations_text: &'static str,
    pub empty_stations_title: &'static str,
    pub enter_code: &'static str,
    pub export_button: &'static str,
    pub export_text: &'static str,
    pub forbidden_text: &'static str,
    pub forbidden_title: &'static str,
    pub forgot_password_intro: &'static str,
    pub forgot_password_link: &'static str,
    pub forgot_password_sent: &'static str,
    pub forgot_password_title: &'static str,
    pub forgot_username_intro: &'static str,
    pub forgot_username_link: &'static str,
    pub forgot_username_sent: &'static str,
    pub forgot_username_title: &'static str,
    pub form_has_errors: &'static str,
    pub fuel_not_sold: &'static str,
    pub fuels_legend: &'static str,
    pub have_account: &'static str,
    pub hello: &'static str,
    pub how_computed: &'static str,
    pub language: &'static str,
    pub link_invalid_text: &'static str,
    pub link_invalid_title: &'static str,
    pub litres: &'static str,
    pub litres_help: &'static str,
    pub litres_invalid: &'static str,
    pub logged_out: &'static str,
    pub login_blocked: &'static str,
    pub login_button: &'static str,
    pub login_label: &'static str,
    pub login_title: &'static str,
    pub logout: &'static str,
    pub manage_stations: &'static str,
    pub move_down: &'static str,
    pub move_up: &'static str,
    pub msg_added: &'static str,
    pub msg_already: &'static str,
    pub msg_email_sent: &'static str,
    pub msg_full: &'static str,
    pub msg_password_changed: &'static str,
    pub msg_removed: &'static str,
    pub msg_renamed: &'static str,
    pub msg_saved: &'static str,
    pub msg_unknown_station: &'static str,
    pub msg_welcome: &'static str,
    pub my_data: &'static str,
    pub my_stations_title: &'static str,
    pub nav_me: &'static str,
    pub new_email: &'static str,
    pub new_password: &'static str,
    pub no_account: &'static str,
    pub own_name: &'static str,
    pub password: &'static str,
    pub password_help: &'static str,
    pub pending_email: &'static str,
    pub per_year: &'static str,
    pub price: &'static str,
    pub profile_section: &'static str,
    pub profile_title: &'static str,
    pub register_button: &'static str,
    pub register_intro: &'static str,
    pub register_title: &'static str,
    pub remember_me: &'static str,
    pub remove: &'static str,
    pub rename: &'static str,
    pub reset_button: &'static str,
    pub reset_done: &'static str,
    pub reset_intro: &'static str,
    pub reset_title: &'static str,
    pub save: &'static str,
    pub saving_add_second: &'static str,
    pub saving_detail: &'static str,
    pub saving_lead: &'static str,
    pub saving_none: &'static str,
    pub saving_vs_department: &'static str,
    pub send_button: &'static str,
    pub shortage: &'static str,
    pub stale_price: &'static str,
    pub station_gone: &'static str,
    pub too_many_text: &'static str,
    pub too_many_title: &'static str,
    pub updated_col: &'static str,
    pub username: &'static str,
    pub username_help: &'static str,
    pub week_change: &'static str,
}

pub static FR: AccountStrings = AccountStrings {
    above_department: "Votre station la moins chère est au-dessus de la moyenne du département {dept} ({avg}).",
    account_deleted: "Votre compte et toutes ses données ont été supprimés.",
    account_disabled: "Ce compte est désactivé. Contactez l’administrateur du site.",
    add: "Ajouter",
    add_first_station: "Ajouter ma première station",
    add_title: "Ajouter une station",
    add_to_mine: "Ajouter à mes stations",
    already_mine: "Déjà dans ma liste",
    ask_new_code: "Demander un nouveau code",
    back_to_login: "Retour à la connexion",
    bad_login: "Identifiant ou mot de passe incorrect.",
    change_email: "Changer d’adresse",
    change_password: "Changer le mot de passe",
    choose_fuels: "Choisir mes carburants",
    code: "Code reçu par e-mail",
    confirm: "Confirmer le mot de passe",
    current_email: "Adresse actuelle",
    current_password: "Mot de passe actuel",
    dashboard_title: "Mon tableau de bord",
    delete_button: "Supprimer définitivement mon compte",
    delete_text: "Votre compte, vos stations et vos réglages seront effacés tout de suite. Cette action est irréversible.",
    delete_title: "Supprimer mon compte",
    display_name: "Nom affiché",
    email: "Adresse e-mail",
    email_cancel_button: "Annuler le changement et fermer toutes les sessions",
    email_cancel_text: "Un changement de l’adresse e-mail de ce compte vers {email} est en attente. Si vous ne l’avez pas demandé, annulez-le : toutes les sessions du compte seront fermées.",
    email_cancel_title: "Annuler le changement d’adresse",
    email_cancelled_text: "Le changement d’adresse est annulé et toutes les sessions du compte sont fermées. Choisissez maintenant un nouveau mot de passe avec « Mot de passe oublié ».",
    email_confirmed_text: "Votre nouvelle adresse e-mail est enregistrée. Un message a prévenu l’ancienne adresse.",
    email_confirmed_title: "Adresse confirmée",
    email_taken_text: "Cette adresse est déjà utilisée par un autre compte.",
    email_taken_title: "Adresse déjà utilisée",
    empty_fuels_title: "Vous ne suivez aucun carburant.",
    empty_stations_text: "Ajoutez les stations où vous faites le plein : vous verrez ici laquelle est la moins chère aujourd’hui, et ce que cela vous fait économiser.",
    empty_stations_title: "Aucune station pour l’instant",
    enter_code: "Saisir le code",
    export_button: "Télécharger mes données (JSON)",
    export_text: "Toutes les données liées à votre compte, dans un fichier JSON.",
    forbidden_text: "Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez.",
    forbidden_title: "Requête refusée",
    forgot_password_intro: "Indiquez votre adresse e-mail ou votre identifiant : nous vous enverrons un code pour choisir un nouveau mot de passe.",
    forgot_password_link: "Mot de passe oublié ?",
    forgot_password_sent: "Si un compte correspond, un code vient d’être envoyé à son adresse e-mail. Il est valable 15 minutes.",
    forgot_password_title: "Mot de passe oublié",
    forgot_username_intro: "Indiquez votre adresse e-mail : nous vous enverrons votre identifiant.",
    forgot_username_link: "Identifiant oublié ?",
    forgot_username_sent: "Si un compte utilise cette adresse, son identifiant vient d’y être envoyé.",
    forgot_username_title: "Identifiant oublié",
    form_has_errors: "Le formulaire contient des erreurs :",
    fuel_not_sold: "Aucune de vos stations ne vend ce carburant.",
    fuels_legend: "Carburants suivis",
    have_account: "Déjà inscrit ?",
    hello: "Bonjour",
    how_computed: "Comment est-ce calculé ?",
    language: "Langue",
    link_invalid_text: "Ce lien est inconnu, déjà utilisé ou expiré. Recommencez depuis votre profil.",
    link_invalid_title: "Lien invalide",
    litres: "Litres par an",
    litres_help: "Sert au calcul des économies (650 L par défaut, une voiture moyenne).",
    litres_invalid: "Un nombre entier de litres entre 1 et 100 000.",
    logged_out: "Vous êtes déconnecté.",
    login_blocked: "Trop de tentatives pour ce compte : réessayez dans {s} s.",
    login_button: "Se connecter",
    login_label: "Identifiant ou adresse e-mail",
    login_title: "Connexion",
    logout: "Déconnexion",
    manage_stations: "Gérer mes stations",
    move_down: "Descendre",
    move_up: "Monter",
    msg_added: "Station ajoutée.",
    msg_already: "Cette station est déjà dans votre liste.",
    msg_email_sent: "Un lien de confirmation a été envoyé à la nouvelle adresse.",
    msg_full: "Votre liste est pleine (50 stations).",
    msg_password_changed: "Mot de passe changé. Vos autres sessions ont été fermées.",
    msg_removed: "Station retirée.",
    msg_renamed: "Nom enregistré.",
    msg_saved: "Profil enregistré.",
    msg_unknown_station: "Station inconnue.",
    msg_welcome: "Bienvenue ! Ajoutez vos stations ci-dessous.",
    my_data: "Mes données",
    my_stations_title: "Mes stations",
    nav_me: "Mon espace",
    new_email: "Nouvelle adresse",
    new_password: "Nouveau mot de passe",
    no_account: "Pas encore de compte ?",
    own_name: "Mon nom pour cette station",
    password: "Mot de passe",
    password_help: "Au moins 10 caractères. Une phrase de quelques mots est facile à retenir et difficile à deviner.",
    pending_email: "En attente de confirmation :",
    per_year: "par an",
    price: "Prix",
    profile_section: "Profil",
    profile_title: "Mon profil",
    register_button: "Créer mon compte",
    register_intro: "Un compte permet de suivre vos stations et de voir chaque jour où faire le plein.",
    register_title: "Créer un compte",
    remember_me: "Rester connecté 30 jours",
    remove: "Retirer",
    rename: "Renommer",
    reset_button: "Changer le mot de passe",
    reset_done: "Mot de passe changé. Connectez-vous avec le nouveau.",
    reset_intro: "Saisissez le code reçu par e-mail et choisissez un nouveau mot de passe.",
    reset_title: "Nouveau mot de passe",
    save: "Enregistrer",
    saving_add_second: "Ajoutez une deuxième station pour comparer.",
    saving_detail: "Moyenne de vos {n} stations {avg} − la moins chère {min}, × {litres} L par an = {amount}.",
    saving_lead: "Faire le plein à la moins chère vous économise",
    saving_none: "Aucun prix récent à comparer pour ce carburant.",
    saving_vs_department: "Face à la moyenne du département {dept} ({avg}) : {amount} par an.",
    send_button: "Envoyer",
    shortage: "En rupture",
    stale_price: "prix ancien",
    station_gone: "n’apparaît plus dans les données",
    too_many_text: "Trop de tentatives depuis votre connexion. Réessayez dans {s} secondes.",
    too_many_title: "Trop de tentatives",
    updated_col: "Mis à jour",
    username: "Identifiant",
    username_help: "3 à 32 caractères : lettres sans accent, chiffres, « . », « _ » ou « - ».",
    week_change: "Sur 7 jours",
};

pub static EN: AccountStrings = AccountStrings {
    above_department: "Your cheapest station is above the average of département {dept} ({avg}).",
    account_deleted: "Your account and all its data have been deleted.",
    account_disabled: "This account is disabled. Contact the site’s administrator.",
    add: "Add",
    add_first_station: "Add my first station",
    add_title: "Add a station",
    add_to_mine: "Add to my stations",
    already_mine: "Already in my list",
    ask_new_code: "Ask for a new code",
    back_to_login: "Back to log in",
    bad_login: "Wrong username, email or password.",
    change_email: "Change address",
    change_password: "Change password",
    choose_fuels: "Choose my fuels",
    code: "Code from the email",
    confirm: "Confirm the password",
    current_email: "Current address",
    current_password: "Current password",
    dashboard_title: "My dashboard",
    delete_button: "Delete my account for good",
    delete_text: "Your account, stations and settings are erased at once. This cannot be undone.",
    delete_title: "Delete my account",
    display_name: "Display name",
    email: "Email address",
    email_cancel_button: "Cancel the change and close every session",
    email_cancel_text: "A change of this account’s email address to {email} is pending. If you did not ask for it, cancel it: every session of the account will be closed.",
    email_cancel_title: "Cancel the address change",
    email_cancelled_text: "The address change is cancelled and every session of the account is closed. Now choose a new password with “Forgot password”.",
    email_confirmed_text: "Your new email address is saved. A message told the old address.",
    email_confirmed_title: "Address confirmed",
    email_taken_text: "This address is already used by another account.",
    email_taken_title: "Address already in use",
    empty_fuels_title: "You follow no fuel.",
    empty_stations_text: "Add the stations where you fill up: you will see here which is cheapest today, and what that saves you.",
    empty_stations_title: "No station yet",
    enter_code: "Enter the code",
    export_button: "Download my data (JSON)",
    export_text: "All the data tied to your account, in a JSON file.",
    forbidden_text: "This form has expired or does not come from this site. Reload the page and try again.",
    forbidden_title: "Request refused",
    forgot_password_intro: "Enter your email address or username: we will send you a code to choose a new password.",
    forgot_password_link: "Forgot your password?",
    forgot_password_sent: "If an account matches, a code has just been sent to its email address. It is valid for 15 minutes.",
    forgot_password_title: "Forgotten password",
    forgot_username_intro: "Enter your email address: we will send you your username.",
    forgot_username_link: "Forgot your username?",
    forgot_username_sent: "If an account uses this address, its username has just been sent to it.",
    forgot_username_title: "Forgotten username",
    form_has_errors: "The form has errors:",
    fuel_not_sold: "None of your stations sells this fuel.",
    fuels_legend: "Fuels I follow",
    have_account: "Already registered?",
    hello: "Hello",
    how_computed: "How is this computed?",
    language: "Language",
    link_invalid_text: "This link is unknown, already used or expired. Start again from your profile.",
    link_invalid_title: "Invalid link",
    litres: "Litres a year",
    litres_help: "Used for the savings figure (650 L by default, an average car).",
    litres_invalid: "A whole number of litres between 1 and 100,000.",
    logged_out: "You are logged out.",
    login_blocked: "Too many attempts for this account: try again in {s} s.",
    login_button: "Log in",
    login_label: "Username or email address",
    login_title: "Log in",
    logout: "Log out",
    manage_stations: "Manage my stations",
    move_down: "Move down",
    move_up: "Move up",
    msg_added: "Station added.",
    msg_already: "This station is already in your list.",
    msg_email_sent: "A confirmation link has been sent to the new address.",
    msg_full: "Your list is full (50 stations).",
    msg_password_changed: "Password changed. Your other sessions have been logged out.",
    msg_removed: "Station removed.",
    msg_renamed: "Name saved.",
    msg_saved: "Profile saved.",
    msg_unknown_station: "Unknown station.",
    msg_welcome: "Welcome! Add your stations below.",
    my_data: "My data",
    my_stations_title: "My stations",
    nav_me: "My account",
    new_email: "New address",
    new_password: "New password",
    no_account: "No account yet?",
    own_name: "My name for this station",
    password: "Password",
    password_help: "At least 10 characters. A phrase of a few words is easy to remember and hard to guess.",
    pending_email: "Waiting for confirmation:",
    per_year: "a year",
    price: "Price",
    profile_section: "Profile",
    profile_title: "My profile",
    register_button: "Create my account",
    register_intro: "An account lets you follow your stations and see each day where to fill up.",
    register_title: "Create an account",
    remember_me: "Stay logged in for 30 days",
    remove: "Remove",
    rename: "Rename",
    reset_button: "Change the password",
    reset_done: "Password changed. Log in with the new one.",
    reset_intro: "Type the code from the email and choose a new password.",
    reset_title: "New password",
    save: "Save",
    saving_add_second: "Add a second station to compare.",
    saving_detail: "Average of your {n} stations {avg} − cheapest {min}, × {litres} L a year = {amount}.",
    saving_lead: "Filling up at the cheapest saves you",
    saving_none: "No recent price to compare for this fuel.",
    saving_vs_department: "Against the average of département {dept} ({avg}): {amount} a year.",
    send_button: "Send",
    shortage: "Out of stock",
    stale_price: "old price",
    station_gone: "no longer in the data",
    too_many_text: "Too many attempts from your connection. Try again in {s} seconds.",
    too_many_title: "Too many attempts",
    updated_col: "Updated",
    username: "Username",
    username_help: "3 to 32 characters: letters without accents, digits, “.”, “_” or “-”.",
    week_change: "Over 7 days",
};

pub fn strings(lang: Lang) -> &'static AccountStrings {
    match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}

/// What is wrong with a field, in words for the person who typed it.
pub fn problem_text(lang: Lang, field: Field, problem: &Problem) -> String {
    let fr = lang == Lang::Fr;
    let t = |f: &str, e: &str| if fr { f.to_owned() } else { e.to_owned() };
    match problem {
        Problem::Taken => match field {
            Field::Username => t("Cet identifiant est déjà pris.", "This username is taken."),
            _ => t("Cette adresse est déjà utilisée par un compte.", "This address is already used by an account."),
        },
        Problem::Mismatch => t("Les deux mots de passe ne sont pas identiques.", "The two passwords differ."),
        Problem::WrongPassword => t("Mot de passe incorrect.", "Wrong password."),
        Problem::BadCode => t(
            "Code incorrect, expiré ou déjà utilisé : vérifiez-le, ou demandez-en un nouveau.",
            "Wrong, expired or used code: check it, or ask for a new one.",
        ),
        Problem::Input(e) => input_text(lang, e),
    }
}

fn input_text(lang: Lang, e: &AccountInputError) -> String {
    let fr = lang == Lang::Fr;
    let t = |f: &str, e: &str| if fr { f.to_owned() } else { e.to_owned() };
    match e {
        AccountInputError::UsernameLength => {
            t("L’identifiant doit faire de 3 à 32 caractères.", "The username must be 3 to 32 characters.")
        }
        AccountInputError::UsernameChars => t(
            "L’identifiant ne peut contenir que des lettres sans accent, des chiffres, « . », « _ » et « - », et commence par une lettre ou un chiffre.",
            "The username may only hold letters without accents, digits, “.”, “_” and “-”, and starts with a letter or digit.",
        ),
        AccountInputError::DisplayNameLength => {
            t("Le nom affiché doit faire de 1 à 60 caractères.", "The display name must be 1 to 60 characters.")
        }
        AccountInputError::DisplayNameChars => {
            t("Le nom affiché contient un caractère invalide.", "The display name holds an invalid character.")
        }
        AccountInputError::Email => t("Ce n’est pas une adresse e-mail valide.", "This is not a valid email address."),
        AccountInputError::PasswordTooShort => {
            if fr {
                format!("Le mot de passe doit faire au moins {MIN_PASSWORD_CHARS} caractères.")
            } else {
                format!("The password must be at least {MIN_PASSWORD_CHARS} characters.")
            }
        }
        AccountInputError::PasswordTooLong => t("Le mot de passe est trop long.", "The password is too long."),
        AccountInputError::PasswordWeak(advice) => {
            let mut s = t("Ce mot de passe est trop facile à deviner.", "This password is too easy to guess.");
            if let Some(w) = advice.warning {
                s.push(' ');
                s.push_str(warning(lang, w));
            }
            for sug in &advice.suggestions {
                s.push(' ');
                s.push_str(suggestion(lang, *sug));
            }
            s
        }
    }
}

fn warning(lang: Lang, w: Warning) -> &'static str {
    let (fr, en) = match w {
        Warning::StraightRowsOfKeysAreEasyToGuess => {
            ("Les rangées de touches se devinent facilement.", "Straight rows of keys are easy to guess.")
        }
        Warning::ShortKeyboardPatternsAreEasyToGuess => {
            ("Les motifs courts sur le clavier se devinent facilement.", "Short keyboard patterns are easy to guess.")
        }
        Warning::RepeatsLikeAaaAreEasyToGuess => {
            ("Les répétitions comme « aaa » se devinent facilement.", "Repeats like “aaa” are easy to guess.")
        }
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => (
            "Les répétitions comme « abcabc » ne sont guère plus sûres que « abc ».",
            "Repeats like “abcabc” are only slightly harder to guess than “abc”.",
        ),
        Warning::ThisIsATop10Password => {
            ("C’est l’un des 10 mots de passe les plus courants.", "This is a top-10 common password.")
        }
        Warning::ThisIsATop100Password => {
            ("C’est l’un des 100 mots de passe les plus courants.", "This is a top-100 common password.")
        }
        Warning::ThisIsACommonPassword => ("C’est un mot de passe très courant.", "This is a very common password."),
        Warning::ThisIsSimilarToACommonlyUsedPassword => {
            ("Il ressemble à un mot de passe courant.", "This is similar to a commonly used password.")
        }
        Warning::SequencesLikeAbcAreEasyToGuess => (
            "Les suites comme « abc » ou « 6543 » se devinent facilement.",
            "Sequences like “abc” or “6543” are easy to guess.",
        ),
        Warning::RecentYearsAreEasyToGuess => {
            ("Les années récentes se devinent facilement.", "Recent years are easy to guess.")
        }
        Warning::AWordByItselfIsEasyToGuess => {
            ("Un mot seul se devine facilement.", "A word by itself is easy to guess.")
        }
        Warning::DatesAreOftenEasyToGuess => {
            ("Les dates se devinent souvent facilement.", "Dates are often easy to guess.")
        }
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess => {
            ("Un nom ou prénom seul se devine facilement.", "Names and surnames by themselves are easy to guess.")
        }
        Warning::CommonNamesAndSurnamesAreEasyToGuess => {
            ("Les noms et prénoms courants se devinent facilement.", "Common names and surnames are easy to guess.")
        }
    };
    if lang == Lang::Fr { fr } else { en }
}

fn suggestion(lang: Lang, s: Suggestion) -> &'static str {
    let (fr, en) = match s {
        Suggestion::UseAFewWordsAvoidCommonPhrases => {
            ("Utilisez quelques mots, en évitant les expressions courantes.", "Use a few words, avoid common phrases.")
        }
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters => (
            "Pas besoin de symboles, de chiffres ni de majuscules.",
            "No need for symbols, digits, or uppercase letters.",
        ),
        Suggestion::AddAnotherWordOrTwo => {
            ("Ajoutez un ou deux mots de plus, peu courants.", "Add another word or two. Uncommon words are better.")
        }
        Suggestion::CapitalizationDoesntHelpVeryMuch => {
            ("Les majuscules n’aident pas beaucoup.", "Capitalization doesn’t help very much.")
        }
        Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => (
            "Tout en majuscules se devine presque aussi facilement que tout en minuscules.",
            "All-uppercase is almost as easy to guess as all-lowercase.",
        ),
        Suggestion::ReversedWordsArentMuchHarderToGuess => {
            ("Les mots à l’envers ne sont guère plus sûrs.", "Reversed words aren’t much harder to guess.")
        }
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch => (
            "Les substitutions prévisibles (« @ » pour « a ») n’aident pas beaucoup.",
            "Predictable substitutions like “@” instead of “a” don’t help very much.",
        ),
        Suggestion::UseALongerKeyboardPatternWithMoreTurns => (
            "Utilisez un motif de clavier plus long, avec plus de détours.",
            "Use a longer keyboard pattern with more turns.",
        ),
        Suggestion::AvoidRepeatedWordsAndCharacters => {
            ("Évitez les mots et caractères répétés.", "Avoid repeated words and characters.")
        }
        Suggestion::AvoidSequences => ("Évitez les suites.", "Avoid sequences."),
        Suggestion::AvoidRecentYears => ("Évitez les années récentes.", "Avoid recent years."),
        Suggestion::AvoidYearsThatAreAssociatedWithYou => {
            ("Évitez les années liées à vous.", "Avoid years that are associated with you.")
        }
        Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou => {
            ("Évitez les dates et années liées à vous.", "Avoid dates and years that are associated with you.")
        }
    };
    if lang == Lang::Fr { fr } else { en }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_password_advice_is_translated() {
        let e = crate::domain::NewPassword::parse("password123", &[]).expect_err("weak");
        let fr = problem_text(Lang::Fr, Field::Password, &Problem::Input(e.clone()));
        let en = problem_text(Lang::En, Field::Password, &Problem::Input(e));
        assert!(fr.starts_with("Ce mot de passe est trop facile à deviner."), "{fr}");
        assert!(fr.len() > 50, "advice included: {fr}");
        assert!(en.starts_with("This password is too easy to guess."), "{en}");
    }
}
