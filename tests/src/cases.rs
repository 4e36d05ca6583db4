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
