//! Cases both front ends run, `ccbulk run` and the Lambdas: the file and the sandboxes' state it meets.

use ccbulk_sandbox::connect::seed::UserSeed as ConnectUserSeed;
use ccbulk_sandbox::connect::{ConnectSeed, IdentityManagementType};
use ccbulk_sandbox::salesforce::SalesforceSeed;
use ccbulk_sandbox::salesforce::seed::UserSeed as SalesforceUserSeed;

/// Five rows that each end differently: `existing.agent` is already in Connect (adopted and brought to the row's
/// settings), `other.center` belongs to another contact center in Salesforce (refused, and nothing made in
/// Connect), `taken`'s Salesforce username is another org's (DUPLICATE_USERNAME), `fine.agent` succeeds, and the
/// last row's username is too long for a CONNECT_MANAGED instance (INVALID).
pub const MIXED: &str = "\
action,username,password,first_name,last_name,email,routing_profile,security_profiles,hierarchy_group,phone_type,desk_phone_number,auto_accept,acw_timeout,tags,quick_connect,sf_username,sf_alias,contact_center,role
add,existing.agent,Welcome123!Ab,Eve,Existing,eve@northwind-support.com,Sales Inbound,Agent,Sales/East,soft,,yes,30,,no,eve@northwind-support.com,eexist,Northwind Support,Agent
add,other.center,Welcome123!Ab,Otto,Other,otto@northwind-support.com,Basic Routing Profile,Agent,,soft,,no,0,,no,otto@northwind-support.com,oother,Northwind Support,Agent
add,taken,Welcome123!Ab,Tia,Taken,tia@northwind-support.com,Basic Routing Profile,Agent,,soft,,no,0,,no,taken@elsewhere.example.com,ttaken,Northwind Support,Agent
add,fine.agent,Welcome123!Ab,Fay,Fine,fay@northwind-support.com,Basic Routing Profile,Agent,,soft,,no,0,,yes,fay@northwind-support.com,ffine,Northwind Support,Agent
add,this.username.is.too.long.for.connect,Welcome123!Ab,Bo,Bad,bo@northwind-support.com,Basic Routing Profile,Agent,,soft,,no,0,,no,bo@northwind-support.com,bbad,Northwind Support,Agent
";

/// The state [`MIXED`] meets: `existing.agent` in the CONNECT_MANAGED instance with other settings, and Otto in
/// the org's "Support EMEA" contact center.
pub fn seed_mixed(connect: &mut ConnectSeed, salesforce: &mut SalesforceSeed) {
    let instance =
        connect.instances.iter_mut().find(|i| i.identity_management == IdentityManagementType::ConnectManaged).unwrap();
    instance.users.push(ConnectUserSeed {
        username: "existing.agent".into(),
        first_name: Some("Eve".into()),
        last_name: Some("Before".into()),
        email: None,
        routing_profile: "Basic Routing Profile".into(),
        security_profiles: vec!["Admin".into()],
    });
    salesforce.users.push(SalesforceUserSeed {
        id: None,
        username: "otto@northwind-support.com".into(),
        email: "otto@northwind-support.com".into(),
        first_name: Some("Otto".into()),
        last_name: "Other".into(),
        alias: "oother".into(),
        profile: "Standard User".into(),
        call_center: Some("Support EMEA".into()),
        permission_sets: vec![],
        active: true,
    });
}

/// A file broken the way a careless export breaks one, and the passwords it holds: none of them may appear in
/// any output, store, message or log, whatever the file's damage.
pub struct BrokenFile {
    pub name: &'static str,
    pub csv: &'static str,
    pub passwords: &'static [&'static str],
    /// Whether the file can be used at all (a file without a header cannot).
    pub usable: bool,
}

/// A ccbulk file saved without its header row: its first user row stands where the header should be.
pub const NO_HEADER: BrokenFile = BrokenFile {
    name: "no-header.csv",
    csv: "\
add,nohead.first,NoHeader1!First,Nora,Head,nora@northwind-support.com,Basic Routing Profile,Agent,soft,no,0,team=blue
add,nohead.second,NoHeader2!Second,Ned,Head,ned@northwind-support.com,Basic Routing Profile,Agent,soft,no,0,team=blue
",
    passwords: &["NoHeader1!First", "NoHeader2!Second"],
    usable: false,
};

/// Row 3's tags open a quote that never closes: the rows after it run into that one cell.
pub const UNCLOSED_QUOTE: BrokenFile = BrokenFile {
    name: "unclosed-quote.csv",
    csv: "\
action,username,password,first_name,last_name,email,routing_profile,security_profiles,phone_type,auto_accept,acw_timeout,tags
add,quote.fine,Unclosed1!Fine,Quinn,Fine,quinn@northwind-support.com,Basic Routing Profile,Agent,soft,no,0,team=blue
add,quote.open,Unclosed2!Open,Olga,Open,olga@northwind-support.com,Basic Routing Profile,Agent,soft,no,0,\"team=blue
add,quote.lost1,Unclosed3!Lost,Lars,Lost,lars@northwind-support.com,Basic Routing Profile,Agent,soft,no,0,team=green
add,quote.lost2,Unclosed4!Lost,Lena,Lost,lena@northwind-support.com,Basic Routing Profile,Agent,soft,no,0,team=red
",
    passwords: &["Unclosed1!Fine", "Unclosed2!Open", "Unclosed3!Lost", "Unclosed4!Lost"],
    usable: true,
};

/// The admin website's template with an unquoted comma in row 3's first name: every value after it moves one
/// column on, the password into `user login`.
pub const TEMPLATE_COMMA: BrokenFile = BrokenFile {
    name: "template-comma.csv",
    csv: "\
first name,last name,email address,secondary email address,mobile,password,user login,agent hierarchy,routing profile name,security_profile_name_1|security_profile_name_2,user_hierarchy_1|user_hierarchy_2,phone type (soft/desk),phone number,soft phone auto accept (yes/no),ACW timeout (seconds),tags
Carla,Clean,carla.clean@contoso-care.com,,,Comma1!Clean,carla.clean,,Basic Routing Profile,Agent,,soft,,no,0,
Mendoza, Carlos,Shifted,carlos.shifted@contoso-care.com,,,Comma2!Shifted,carlos.shifted,,Basic Routing Profile,Agent,,soft,,no,0,
",
    passwords: &["Comma1!Clean", "Comma2!Shifted"],
    usable: true,
};

/// The admin website's template with row 3's secondary email left out, commas and all: every value after it moves
/// one column back, the password into `mobile`, with the row one field short.
pub const TEMPLATE_SHORT: BrokenFile = BrokenFile {
    name: "template-short.csv",
    csv: "\
first name,last name,email address,secondary email address,mobile,password,user login,agent hierarchy,routing profile name,security_profile_name_1|security_profile_name_2,user_hierarchy_1|user_hierarchy_2,phone type (soft/desk),phone number,soft phone auto accept (yes/no),ACW timeout (seconds),tags
Sara,Whole,sara.whole@contoso-care.com,,,Short1!Whole,sara.whole,,Basic Routing Profile,Agent,,soft,,no,0,
Dora,Dropped,dora.dropped@contoso-care.com,,Short2!Dropped,dora.dropped,,Basic Routing Profile,Agent,,soft,,no,0,
",
    passwords: &["Short1!Whole", "Short2!Dropped"],
    usable: true,
};

/// Row 3 has both: an unquoted comma in its first name, and its last value (tags) left off, so its field count is
/// the header's while every value after the comma sits one column on, the password in `user login`.
pub const TEMPLATE_COMMA_SHORT: BrokenFile = BrokenFile {
    name: "template-comma-short.csv",
    csv: "\
first name,last name,email address,secondary email address,mobile,password,user login,agent hierarchy,routing profile name,security_profile_name_1|security_profile_name_2,user_hierarchy_1|user_hierarchy_2,phone type (soft/desk),phone number,soft phone auto accept (yes/no),ACW timeout (seconds),tags
Tess,Tidy,tess.tidy@contoso-care.com,,,Even1!Tidy,tess.tidy,,Basic Routing Profile,Agent,,soft,,no,0,
Ortiz, Olek,Even,olek.even@contoso-care.com,,,Even2!Shifted,olek.even,,Basic Routing Profile,Agent,,soft,,no,0
",
    passwords: &["Even1!Tidy", "Even2!Shifted"],
    usable: true,
};

pub const BROKEN_FILES: [BrokenFile; 5] =
    [NO_HEADER, UNCLOSED_QUOTE, TEMPLATE_COMMA, TEMPLATE_SHORT, TEMPLATE_COMMA_SHORT];

impl BrokenFile {
    /// Panics, naming the place, if `text` holds any of the file's passwords (or a long enough piece of one).
    pub fn assert_no_password_in(&self, place: &str, text: &str) {
        for password in self.passwords {
            // A piece as long as the excerpts messages may show of a clean cell, and longer, is a leak here.
            let piece = &password[..7];
            assert!(
                !text.contains(password) && !text.contains(piece),
                "{}: {place} holds the password {password:?} (or its start {piece:?}):\n{text}",
                self.name
            );
        }
    }
}
